"""``tflint --fix``: apply the rules' suggested rewrites to a Keras model.

``configs`` finds layers and tensor references in a config of any dialect,
``actions`` applies one fix action to it, ``apply`` chooses the fixes of a
lint result, ``weights`` reads and copies the original weights, ``writer``
builds and saves the new model, ``diff`` shows what would change,
``measure`` and ``table`` compare the converted models, ``options`` and
``command`` plug it all into ``tflint check``.  Only ``writer`` (and the
child processes of ``--convert``) import Keras.
"""
