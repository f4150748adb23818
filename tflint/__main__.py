from tflint.cli import main

main()
