"""Static shapes of a Keras graph's tensors, from the model inputs and each layer's config.

Keras 3 files record the shape of most tensors; tf.keras files record the
model inputs' only.  Shapes are propagated layer by layer the way the Keras
layers compute them (``compute_output_shape``), from the config alone.  A
dimension unknown until run time is ``None`` (the batch, a sequence length);
an output whose dimensions cannot be computed keeps its rank when that is
known (all ``None``), and is left out when not even the rank is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tflint.graph import ModelGraph, Node, Shape
from tflint.kerasconfig import LayerConfig

#: Keras 2.0 class names that later Keras renamed.
_ALIASES = {
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
    "SeparableConvolution2D": "SeparableConv2D", "Deconvolution2D": "Conv2DTranspose",
    "Merge": "Concatenate", "CuDNNLSTM": "LSTM", "CuDNNGRU": "GRU",
}
#: Layers whose output has the shape of their (first) input.
SAME_SHAPE = frozenset({
    "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax",
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
    "SpectralNormalization", "Normalization", "Rescaling", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "Masking", "Identity", "Gelu", "QuantizeLayer",
    "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomContrast",
    "RandomBrightness",
})
MERGE_CLASSES = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})
RNN_CLASSES = frozenset({"LSTM", "GRU", "SimpleRNN"})


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _tuple(value: Any, n: int, default: int) -> list[int]:
    """A Keras ``int or tuple`` option spread over ``n`` dimensions."""
    if isinstance(value, list | tuple):
        items = [_int(v) for v in value]
        if len(items) == n and all(v is not None for v in items):
            return [v for v in items if v is not None]
        return [default] * n
    single = _int(value)
    return [single if single is not None else default] * n


def _channels_first(config: dict[str, Any]) -> bool:
    return config.get("data_format") == "channels_first"


def _spatial(shape: Shape, config: dict[str, Any]) -> tuple[list[int], int]:
    """Indices of the spatial dimensions, and of the channel dimension."""
    rank = len(shape)
    if _channels_first(config):
        return list(range(2, rank)), 1
    return list(range(1, rank - 1)), rank - 1


def _window(size: int | None, kernel: int, stride: int, dilation: int,
            padding: str) -> int | None:
    """Output length of a convolution or pooling window slid over ``size``."""
    if size is None:
        return None
    if padding in ("same", "causal"):
        return -(-size // stride)
    span = (kernel - 1) * dilation + 1
    return max((size - span) // stride + 1, 0)


def _transposed(size: int | None, kernel: int, stride: int, dilation: int,
                padding: str) -> int | None:
    if size is None:
        return None
    span = (kernel - 1) * dilation + 1
    if padding == "same":
        return size * stride
    return size * stride + max(span - stride, 0)


def _conv(cls: str, config: dict[str, Any], shape: Shape) -> Shape | None:
    spatial, channel = _spatial(shape, config)
    n = len(spatial)
    if n < 1:
        return None
    kernel = _tuple(config.get("kernel_size", config.get("nb_row")), n, 1)
    strides = _tuple(config.get("strides", config.get("subsample", 1)), n, 1)
    dilation = _tuple(config.get("dilation_rate", 1), n, 1)
    padding = str(config.get("padding", config.get("border_mode", "valid"))).lower()
    out = list(shape)
    for i, axis in enumerate(spatial):
        step = _transposed if cls.endswith("Transpose") else _window
        out[axis] = step(shape[axis], kernel[i], strides[i], dilation[i], padding)
    if cls.startswith("Depthwise"):
        multiplier = _int(config.get("depth_multiplier", 1)) or 1
        channels = shape[channel]
        out[channel] = None if channels is None else channels * multiplier
    else:
        out[channel] = _int(config.get("filters", config.get("nb_filter")))
    return tuple(out)


def _pool(config: dict[str, Any], shape: Shape) -> Shape | None:
    spatial, _ = _spatial(shape, config)
    n = len(spatial)
    pool = _tuple(config.get("pool_size", 2), n, 2)
    strides = _tuple(config.get("strides"), n, 0) if config.get("strides") is not None else pool
    padding = str(config.get("padding", "valid")).lower()
    out = list(shape)
    for i, axis in enumerate(spatial):
        out[axis] = _window(shape[axis], pool[i], strides[i] or pool[i], 1, padding)
    return tuple(out)


def _global_pool(config: dict[str, Any], shape: Shape) -> Shape:
    spatial, channel = _spatial(shape, config)
    if config.get("keepdims"):
        return tuple(1 if i in spatial else d for i, d in enumerate(shape))
    return (shape[0], shape[channel])


def _scaled(shape: Shape, config: dict[str, Any], key: str, default: int,
            change: Callable[[int, int], int]) -> Shape:
    spatial, _ = _spatial(shape, config)
    sizes = _tuple(config.get(key, default), len(spatial), default)
    out = list(shape)
    for i, axis in enumerate(spatial):
        size = shape[axis]
        out[axis] = None if size is None else change(size, sizes[i])
    return tuple(out)


def _pairs(value: Any, n: int) -> list[tuple[int, int]]:
    """Padding or cropping amounts: ``1``, ``(1, 2)`` or ``((1, 1), (2, 2))``."""
    if isinstance(value, list | tuple) and len(value) == n and all(
            isinstance(v, list | tuple) for v in value):
        return [(_int(v[0]) or 0, _int(v[1]) or 0) if len(v) == 2 else (0, 0) for v in value]
    if n == 1 and isinstance(value, list | tuple) and len(value) == 2:
        return [(_int(value[0]) or 0, _int(value[1]) or 0)]
    return [(d, d) for d in _tuple(value, n, 0)]


def _pad(shape: Shape, config: dict[str, Any], sign: int) -> Shape:
    spatial, _ = _spatial(shape, config)
    key = "padding" if sign > 0 else "cropping"
    amounts = _pairs(config.get(key, 1), len(spatial))
    out = list(shape)
    for (before, after), axis in zip(amounts, spatial, strict=False):
        size = shape[axis]
        out[axis] = None if size is None else size + sign * (before + after)
    return tuple(out)


def _reshape(config: dict[str, Any], shape: Shape, flavor: str) -> Shape | None:
    """Keras 3 resolves a ``-1`` from the known non-batch dimensions when the layer is
    built; tf.keras reshapes to ``(batch, -1, ...)`` at run time, so with an unknown
    batch the converter cannot resolve the ``-1``."""
    target = config.get("target_shape")
    if not isinstance(target, list | tuple):
        return None
    dims = [_int(d) for d in target]
    if -1 in dims:
        inner = [d for d in shape[1:] if d is not None]
        known = _product([d for d in dims if d is not None and d != -1])
        resolvable = len(inner) == len(shape) - 1 and known > 0
        if flavor == "tf_keras" and shape[0] is None:
            resolvable = False
        fill = _product(inner) // known if resolvable else None
        dims = [fill if d == -1 else d for d in dims]
    return (shape[0], *dims)


def _product(values: list[int]) -> int:
    out = 1
    for value in values:
        out *= value
    return out


def _flatten(shape: Shape) -> Shape:
    inner = shape[1:]
    known = [d for d in inner if d is not None]
    return (shape[0], _product(known) if len(known) == len(inner) else None)


def _permute(config: dict[str, Any], shape: Shape) -> Shape | None:
    dims = [_int(d) for d in config.get("dims") or ()]
    if sorted(d for d in dims if d is not None) != list(range(1, len(shape))):
        return None
    return (shape[0], *(shape[d] for d in dims if d is not None))


def _concatenate(config: dict[str, Any], shapes: list[Shape]) -> Shape | None:
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        return None
    axis = _int(config.get("axis", -1))
    axis = rank - 1 if axis is None else axis % rank
    out = list(_merged(shapes) or shapes[0])
    sizes = [s[axis] for s in shapes]
    out[axis] = sum(d for d in sizes if d is not None) if None not in sizes else None
    return tuple(out)


def _merged(shapes: list[Shape]) -> Shape | None:
    """Elementwise merge: the broadcast of the inputs, known dimensions preferred."""
    rank = max(len(s) for s in shapes)
    out: list[int | None] = [None] * rank
    for s in shapes:
        for i, d in enumerate(s, start=rank - len(s)):
            if d is not None and (out[i] is None or out[i] == 1):
                out[i] = d
    return tuple(out)


def _einsum(config: dict[str, Any], shape: Shape) -> Shape | None:
    """``EinsumDense``: each output letter is an input dimension or from ``output_shape``."""
    equation = config.get("equation")
    if not isinstance(equation, str) or "->" not in equation or "," not in equation:
        return None
    left, out_spec = equation.replace(" ", "").split("->")
    in_spec = left.split(",")[0]
    declared = config.get("output_shape")
    declared = list(declared) if isinstance(declared, list | tuple) else [declared]
    ellipsis_dims: list[int | None] = []
    if "..." in in_spec:
        explicit = len(in_spec) - 3
        ellipsis_dims = list(shape[:len(shape) - explicit]) if in_spec.startswith("...") else []
        in_spec = in_spec.replace("...", "")
        shape = shape[len(ellipsis_dims):] if in_spec and ellipsis_dims else shape
    letters = out_spec.replace("...", "")
    if len(in_spec) != len(shape):
        return None
    # output_shape leaves out the batch (the first letter) unless an ellipsis leads.
    skip = 0 if out_spec.startswith("...") else 1
    dims: list[int | None] = []
    for i, letter in enumerate(letters):
        given = declared[i - skip] if 0 <= i - skip < len(declared) else None
        if letter in in_spec:
            dims.append(shape[in_spec.index(letter)])
        else:
            dims.append(_int(given))
    return (*ellipsis_dims, *dims) if out_spec.startswith("...") else tuple(dims)


def _inner(config: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    layer = config.get("layer")
    wrapped = LayerConfig.lenient(layer, 0, None) if isinstance(layer, dict) else None
    if wrapped is None:
        return None, {}
    return _ALIASES.get(wrapped.bare_class, wrapped.bare_class), wrapped.config


def _rnn(config: dict[str, Any], shape: Shape) -> Shape:
    units = _int(config.get("units"))
    if config.get("return_sequences"):
        return (shape[0], shape[1], units)
    return (shape[0], units)


def output_shapes(cls: str, config: dict[str, Any], shapes: list[Shape | None],
                  flavor: str = "keras3") -> Shape | None:
    """The output shape of one call of a Keras layer of class ``cls``, from its config and
    its inputs' shapes, as the converter sees it when the ``flavor`` of Keras (``keras3``
    or ``tf_keras``) traces the model; ``None`` when not known."""
    if cls in MERGE_CLASSES:
        # Inputs of an elementwise merge have one shape (up to broadcasting): any known
        # input tells it, e.g. past a custom layer on one branch of a residual.
        known = [s for s in shapes if s]
        return _merged(known) if known else None
    shape = shapes[0] if shapes else None
    if shape is None or not shape:
        return None
    if cls in SAME_SHAPE:
        return shape
    if cls.endswith(("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
                     "Conv3DTranspose")) and len(shape) >= 3:
        return _conv(cls, config, shape)
    if cls.startswith("Global") and cls.endswith(("Pooling1D", "Pooling2D", "Pooling3D")):
        return _global_pool(config, shape)
    if cls.endswith(("Pooling1D", "Pooling2D", "Pooling3D")):
        return _pool(config, shape)
    if cls == "Dense":
        return (*shape[:-1], _int(config.get("units", config.get("output_dim"))))
    if cls == "EinsumDense":
        return _einsum(config, shape)
    if cls == "Reshape":
        return _reshape(config, shape, flavor)
    if cls == "Flatten":
        return _flatten(shape)
    if cls == "Permute":
        return _permute(config, shape)
    if cls == "RepeatVector":
        return (shape[0], _int(config.get("n")), *shape[1:])
    if cls in ("UpSampling1D", "UpSampling2D", "UpSampling3D"):
        return _scaled(shape, config, "size", 2, lambda d, s: d * s)
    if cls in ("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"):
        return _pad(shape, config, 1)
    if cls in ("Cropping1D", "Cropping2D", "Cropping3D"):
        return _pad(shape, config, -1)
    if cls in ("Resizing", "CenterCrop"):
        height, width = _int(config.get("height")), _int(config.get("width"))
        if len(shape) == 4:
            return (shape[0], height, width, shape[3])
        return None
    if cls == "Embedding":
        return (*shape, _int(config.get("output_dim")))
    if cls == "Concatenate":
        known = [s for s in shapes if s]
        return _concatenate(config, known) if len(known) == len(shapes) else None
    if cls == "MultiHeadAttention":
        declared = config.get("output_shape")
        if isinstance(declared, list | tuple):
            return (*shape[:-1], *(_int(d) for d in declared))
        return (*shape[:-1], _int(declared) if declared is not None else shape[-1])
    if cls in ("Attention", "AdditiveAttention"):
        value = shapes[1] if len(shapes) > 1 and shapes[1] else shape
        return (*shape[:-1], value[-1])
    if cls in RNN_CLASSES:
        return _rnn(config, shape) if len(shape) == 3 else None
    if cls == "Bidirectional":
        inner_cls, inner = _inner(config)
        if inner_cls not in RNN_CLASSES or len(shape) != 3:
            return None
        out = _rnn(inner, shape)
        units = out[-1]
        if config.get("merge_mode", "concat") == "concat" and units is not None:
            return (*out[:-1], 2 * units)
        return out
    if cls == "TimeDistributed":
        inner_cls, inner = _inner(config)
        if inner_cls is None or len(shape) < 3:
            return None
        step = output_shapes(inner_cls, inner, [(shape[0], *shape[2:])], flavor)
        return None if step is None else (step[0], shape[1], *step[1:])
    return None


def _rank_only(cls: str, config: dict[str, Any], rank: int | None) -> int | None:
    """The output rank of a layer whose dimensions are not known, when its class tells."""
    if rank is None:
        return None
    if cls in SAME_SHAPE or cls in MERGE_CLASSES or cls in ("Concatenate", "Dense"):
        return rank
    return None


def propagate(graph: ModelGraph, layer_class: Callable[[Node], str] | None = None,
              flavor: str = "keras3") -> dict[str, Shape]:
    """Shapes of the graph's tensors by tensor id, in execution order: the recorded shape
    with its unknown dimensions filled in from the computed one (Keras 3 records a
    Reshape's ``-1`` as None, though it resolves it), the computed one where none is
    recorded."""
    shapes: dict[str, Shape] = {}
    for tensor in graph.inputs:
        if tensor.shape is not None:
            shapes[tensor.id] = tuple(tensor.shape)
    for node in graph.nodes():
        for tensor in node.inputs:
            if tensor.id not in shapes and tensor.shape is not None:
                shapes[tensor.id] = tuple(tensor.shape)
        cls = layer_class(node) if layer_class else _ALIASES.get(node.op_type, node.op_type)
        config = node.options
        if cls in ("QuantizeWrapper", "QuantizeWrapperV2"):
            inner_cls, config = _inner(config)
            if inner_cls is None:
                continue
            cls = inner_cls
        computed: Shape | None = None
        if node.origin == "builtin":
            computed = output_shapes(cls, config, [shapes.get(t.id) for t in node.inputs],
                                     flavor)
            if computed is None:
                first = shapes.get(node.inputs[0].id) if node.inputs else None
                rank = _rank_only(cls, config, None if first is None else len(first))
                computed = None if rank is None else (None,) * rank
        single = computed if len(node.outputs) == 1 else None
        for tensor in node.outputs:
            recorded = tuple(tensor.shape) if tensor.shape is not None else None
            if recorded is None or single is None or len(single) != len(recorded):
                found = recorded if recorded is not None else single
                if found is not None:
                    shapes[tensor.id] = found
            elif flavor == "tf_keras" and cls == "Reshape":
                shapes[tensor.id] = single  # what the converter sees, not what Keras says
            else:
                shapes[tensor.id] = tuple(r if r is not None else c
                                          for r, c in zip(recorded, single, strict=True))
    return shapes
