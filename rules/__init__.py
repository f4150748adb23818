"""tflint's built-in rules, registered through the ``tflint.rules`` entry point.

One rule per module; a rule's documentation is its class docstring.  Data that
changes with TensorFlow releases lives in ``data/`` next to the rules.
"""

#: The metadata of every rule here, so a lint imports only the rule modules it
#: runs; regenerate it with ``python scripts/generate_rule_index.py``.
RULE_INDEX = "data/rule_index.json"
