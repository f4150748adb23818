"""Small .tflite models written with the flatbuffers builder, for cases a converter cannot make.

Uses the LiteRT schema's object API (test-only: the loader never does), imported
when a model is built so that collecting the tests needs no LiteRT.
"""

from __future__ import annotations


def single_custom_op_model(custom_code: str) -> bytes:
    """One float32 [1, 4] input, one custom op, one output."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT()
    model.version = 3
    opcode = schema.OperatorCodeT()
    opcode.builtinCode = schema.BuiltinOperator.CUSTOM
    opcode.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    opcode.customCode = custom_code
    opcode.version = 1
    model.operatorCodes = [opcode]
    model.buffers = [schema.BufferT(), schema.BufferT(), schema.BufferT()]
    tensors = []
    for index, name in enumerate(("input", "output")):
        tensor = schema.TensorT()
        tensor.shape = [1, 4]
        tensor.type = schema.TensorType.FLOAT32
        tensor.buffer = index + 1
        tensor.name = name
        tensors.append(tensor)
    operator = schema.OperatorT()
    operator.opcodeIndex = 0
    operator.inputs = [0]
    operator.outputs = [1]
    subgraph = schema.SubGraphT()
    subgraph.tensors = tensors
    subgraph.inputs = [0]
    subgraph.outputs = [1]
    subgraph.operators = [operator]
    subgraph.name = "main"
    model.subgraphs = [subgraph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
