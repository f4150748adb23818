from tflint.cli import run

run()
