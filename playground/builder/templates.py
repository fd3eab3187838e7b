"""Templates: small teaching versions of the classic architectures, as editable graphs.

Each :class:`Template` has a name (``lenet5``, ``resnet_stack`` ...), a one-line description
and its default input shape; :func:`build` returns a fresh, laid-out :class:`Graph`, with
another input shape if asked (the shapes downstream are then re-inferred; a size the network
cannot take is reported on the block that breaks). Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from playground.builder.errors import GraphError
from playground.builder.graph import Graph, auto_layout


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str
    input_shape: tuple[int, ...]
    make: Callable[[], Graph]


class _Chain:
    """Adds blocks one after another: ``c("ReLU")`` connects the last block to a new ReLU."""

    def __init__(self, graph: Graph, last: str) -> None:
        self.g, self.last = graph, last

    def __call__(self, type: str, id: str | None = None, **params) -> str:  # noqa: A002
        node = self.g.add(type, id, **params)
        self.g.connect(self.last, node.id)
        self.last = node.id
        return node.id

    def join(self, type: str, id: str, parts: Sequence[str], **params) -> str:  # noqa: A002
        node = self.g.add(type, id, inputs=len(parts), **params)
        for port, src in enumerate(parts):
            self.g.connect(src, node.id, port)
        self.last = node.id
        return node.id


def _start(name: str, description: str, shape: tuple[int, ...], dtype: str = "float32",
           vocab: int = 1000) -> tuple[Graph, _Chain]:
    g = Graph(name, description)
    g.add("Input", "input", shape=shape, dtype=dtype, vocab_size=vocab)
    return g, _Chain(g, "input")


# ------------------------------------------------------------------------------------------

def _mlp() -> Graph:
    g, c = _start("mlp", TEMPLATES["mlp"].description, (1, 28, 28))
    c("Flatten", "flatten")
    c("Linear", "fc1", in_features=784, out_features=256)
    c("ReLU", "relu1")
    c("Dropout", "drop1", p=0.2)
    c("Linear", "fc2", in_features=256, out_features=128)
    c("ReLU", "relu2")
    c("Linear", "fc3", in_features=128, out_features=10)
    return g


def _lenet5() -> Graph:
    g, c = _start("lenet5", TEMPLATES["lenet5"].description, (1, 28, 28))
    c("Conv2d", "conv1", in_channels=1, out_channels=6, kernel_size=5, padding=2)
    c("Tanh", "act1")
    c("AvgPool2d", "pool1", kernel_size=2, stride=2)
    c("Conv2d", "conv2", in_channels=6, out_channels=16, kernel_size=5)
    c("Tanh", "act2")
    c("AvgPool2d", "pool2", kernel_size=2, stride=2)
    c("Flatten", "flatten")
    c("Linear", "fc1", in_features=400, out_features=120)
    c("Tanh", "act3")
    c("Linear", "fc2", in_features=120, out_features=84)
    c("Tanh", "act4")
    c("Linear", "fc3", in_features=84, out_features=10)
    return g


def _alexnet_mini() -> Graph:
    g, c = _start("alexnet_mini", TEMPLATES["alexnet_mini"].description, (3, 32, 32))
    c("Conv2d", "conv1", in_channels=3, out_channels=48, kernel_size=5, padding=2)
    c("ReLU", "relu1")
    c("MaxPool2d", "pool1", kernel_size=3, stride=2)
    c("Conv2d", "conv2", in_channels=48, out_channels=96, kernel_size=5, padding=2)
    c("ReLU", "relu2")
    c("MaxPool2d", "pool2", kernel_size=3, stride=2)
    c("Conv2d", "conv3", in_channels=96, out_channels=144, kernel_size=3, padding=1)
    c("ReLU", "relu3")
    c("Conv2d", "conv4", in_channels=144, out_channels=144, kernel_size=3, padding=1)
    c("ReLU", "relu4")
    c("Conv2d", "conv5", in_channels=144, out_channels=96, kernel_size=3, padding=1)
    c("ReLU", "relu5")
    c("MaxPool2d", "pool3", kernel_size=3, stride=2)
    c("Flatten", "flatten")
    c("Dropout", "drop1", p=0.5)
    c("Linear", "fc1", in_features=864, out_features=512)
    c("ReLU", "relu6")
    c("Dropout", "drop2", p=0.5)
    c("Linear", "fc2", in_features=512, out_features=256)
    c("ReLU", "relu7")
    c("Linear", "fc3", in_features=256, out_features=10)
    return g


def _basic_block(c: _Chain, name: str, c_in: int, c_out: int, stride: int) -> None:
    """conv-BN-ReLU-conv-BN plus the shortcut (1x1 conv + BN when the shape changes), ReLU."""
    start = c.last
    c("Conv2d", f"{name}_conv1", in_channels=c_in, out_channels=c_out, kernel_size=3,
      stride=stride, padding=1, bias=False)
    c("BatchNorm2d", f"{name}_bn1", num_features=c_out)
    c("ReLU", f"{name}_relu1")
    c("Conv2d", f"{name}_conv2", in_channels=c_out, out_channels=c_out, kernel_size=3,
      padding=1, bias=False)
    main = c("BatchNorm2d", f"{name}_bn2", num_features=c_out)
    shortcut = start
    if stride != 1 or c_in != c_out:
        c.last = start
        c("Conv2d", f"{name}_down", in_channels=c_in, out_channels=c_out, kernel_size=1,
          stride=stride, bias=False)
        shortcut = c("BatchNorm2d", f"{name}_down_bn", num_features=c_out)
    c.join("Add", f"{name}_add", [main, shortcut])
    c("ReLU", f"{name}_relu2")


def _resnet_stack() -> Graph:
    g, c = _start("resnet_stack", TEMPLATES["resnet_stack"].description, (3, 32, 32))
    c("Conv2d", "stem", in_channels=3, out_channels=16, kernel_size=3, padding=1, bias=False)
    c("BatchNorm2d", "stem_bn", num_features=16)
    c("ReLU", "stem_relu")
    _basic_block(c, "block1", 16, 16, 1)
    _basic_block(c, "block2", 16, 32, 2)
    _basic_block(c, "block3", 32, 64, 2)
    c("AdaptiveAvgPool2d", "pool", output_size=1)
    c("Flatten", "flatten")
    c("Linear", "fc", in_features=64, out_features=10)
    return g


def _inception(c: _Chain, name: str, c_in: int, c1: int, c3r: int, c3: int, c5r: int, c5: int,
               cp: int) -> int:
    """Four branches (1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pool then 1x1), concatenated."""
    start, ends = c.last, []
    for branch, layers in (
            ("b1", [("Conv2d", dict(in_channels=c_in, out_channels=c1, kernel_size=1))]),
            ("b3", [("Conv2d", dict(in_channels=c_in, out_channels=c3r, kernel_size=1)),
                    ("Conv2d", dict(in_channels=c3r, out_channels=c3, kernel_size=3,
                                    padding=1))]),
            ("b5", [("Conv2d", dict(in_channels=c_in, out_channels=c5r, kernel_size=1)),
                    ("Conv2d", dict(in_channels=c5r, out_channels=c5, kernel_size=5,
                                    padding=2))]),
            ("bp", [("MaxPool2d", dict(kernel_size=3, stride=1, padding=1)),
                    ("Conv2d", dict(in_channels=c_in, out_channels=cp, kernel_size=1))])):
        c.last = start
        for i, (kind, params) in enumerate(layers):
            c(kind, f"{name}_{branch}_{'pool' if kind == 'MaxPool2d' else 'conv'}{i + 1}",
              **params)
            if kind == "Conv2d":
                c("ReLU", f"{name}_{branch}_relu{i + 1}")
        ends.append(c.last)
    c.join("Concat", f"{name}_cat", ends, dim=1)
    return c1 + c3 + c5 + cp


def _inception_net() -> Graph:
    g, c = _start("inception_net", TEMPLATES["inception_net"].description, (3, 32, 32))
    c("Conv2d", "stem", in_channels=3, out_channels=32, kernel_size=3, padding=1)
    c("BatchNorm2d", "stem_bn", num_features=32)
    c("ReLU", "stem_relu")
    width = _inception(c, "inc1", 32, 16, 16, 24, 4, 8, 8)
    c("MaxPool2d", "pool1", kernel_size=2, stride=2)
    width = _inception(c, "inc2", width, 32, 32, 48, 8, 16, 16)
    c("AdaptiveAvgPool2d", "pool2", output_size=1)
    c("Flatten", "flatten")
    c("Dropout", "drop", p=0.2)
    c("Linear", "fc", in_features=width, out_features=10)
    return g


def _transformer_classifier() -> Graph:
    g, c = _start("transformer_classifier", TEMPLATES["transformer_classifier"].description,
                  (64,), "int64", 1000)
    c("Embedding", "embed", num_embeddings=1000, embedding_dim=64)
    c("PositionalEncoding", "pos", kind="sinusoidal", d_model=64, max_len=512)
    c("TransformerEncoderLayer", "encoder1", d_model=64, nhead=4, dim_feedforward=128)
    c("TransformerEncoderLayer", "encoder2", d_model=64, nhead=4, dim_feedforward=128)
    c("Permute", "to_channels", dims=(1, 0))
    c("AdaptiveAvgPool1d", "mean_over_time", output_size=1)
    c("Flatten", "flatten")
    c("Linear", "fc", in_features=64, out_features=4)
    return g


def _lstm_classifier() -> Graph:
    g, c = _start("lstm_classifier", TEMPLATES["lstm_classifier"].description, (64,), "int64",
                  1000)
    c("Embedding", "embed", num_embeddings=1000, embedding_dim=64)
    c("LSTM", "lstm", input_size=64, hidden_size=128, output="last")
    c("Dropout", "drop", p=0.3)
    c("Linear", "fc", in_features=128, out_features=4)
    return g


def _deepspeech() -> Graph:
    g, c = _start("deepspeech", TEMPLATES["deepspeech"].description, (40, 100))
    c("Conv1d", "conv1", in_channels=40, out_channels=128, kernel_size=5, padding=2)
    c("BatchNorm1d", "bn1", num_features=128)
    c("ReLU", "relu1")
    c("Conv1d", "conv2", in_channels=128, out_channels=128, kernel_size=5, stride=2, padding=2)
    c("BatchNorm1d", "bn2", num_features=128)
    c("ReLU", "relu2")
    c("Permute", "to_time", dims=(1, 0))
    c("GRU", "gru", input_size=128, hidden_size=128, num_layers=2, bidirectional=True,
      output="all")
    c("Linear", "fc", in_features=256, out_features=29)
    return g


def _tiny_gpt() -> Graph:
    g, c = _start("tiny_gpt", TEMPLATES["tiny_gpt"].description, (32,), "int64", 65)
    c("Embedding", "embed", num_embeddings=65, embedding_dim=64)
    x = c("PositionalEncoding", "pos", kind="learned", d_model=64, max_len=32)
    c("LayerNorm", "ln1", normalized_shape=64)
    attn = c("MultiheadAttention", "attn", embed_dim=64, num_heads=4, causal=True)
    x = c.join("Add", "res1", [x, attn])
    c("LayerNorm", "ln2", normalized_shape=64)
    c("Linear", "mlp_fc", in_features=64, out_features=256)
    c("GELU", "mlp_gelu")
    mlp = c("Linear", "mlp_proj", in_features=256, out_features=64)
    c.join("Add", "res2", [x, mlp])
    c("LayerNorm", "ln_f", normalized_shape=64)
    c("Linear", "head", in_features=64, out_features=65)
    return g


TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("mlp", "Multilayer perceptron",
             "Multilayer perceptron: flatten the image, two hidden fully connected layers with "
             "ReLU, 10 classes.", (1, 28, 28), _mlp),
    Template("lenet5", "LeNet-5",
             "LeNet-5 (LeCun et al. 1998): two convolution + average-pool stages, three fully "
             "connected layers, tanh; 28x28 digits to 10 classes.", (1, 28, 28), _lenet5),
    Template("alexnet_mini", "AlexNet-mini",
             "AlexNet (Krizhevsky et al. 2012) in miniature: five ReLU convolutions with "
             "overlapping max pooling, dropout-regularised classifier; 32x32 colour images.",
             (3, 32, 32), _alexnet_mini),
    Template("resnet_stack", "ResNet basic blocks",
             "ResNet (He et al. 2015): three basic blocks with residual Add joins (1x1 "
             "projection shortcuts where the size changes), global average pooling.",
             (3, 32, 32), _resnet_stack),
    Template("inception_net", "Inception network",
             "GoogLeNet's Inception block (Szegedy et al. 2014): 1x1, 3x3, 5x5 and pooling "
             "branches side by side, joined by Concat; two blocks then a classifier.",
             (3, 32, 32), _inception_net),
    Template("transformer_classifier", "Transformer encoder classifier",
             "Transformer encoder (Vaswani et al. 2017) over 64 token ids: embedding, "
             "sinusoidal positions, two encoder layers, mean over positions, 4 classes.",
             (64,), _transformer_classifier),
    Template("lstm_classifier", "LSTM classifier",
             "LSTM text classifier: embedding, an LSTM read to its last step, dropout, 4 "
             "classes.", (64,), _lstm_classifier),
    Template("deepspeech", "DeepSpeech-style speech model",
             "Deep Speech 2 (Amodei et al. 2015) in miniature: 1-D convolutions over 40 log-mel "
             "bands x 100 frames, a bidirectional GRU, 29 character scores per frame for CTC.",
             (40, 100), _deepspeech),
    Template("tiny_gpt", "Tiny GPT block",
             "One GPT block (Radford et al. 2019): token and learned position embeddings, "
             "causal self-attention and an MLP, each pre-LayerNorm with a residual Add, then "
             "next-token scores over 65 characters.", (32,), _tiny_gpt),
)}


def names() -> list[str]:
    return list(TEMPLATES)


def get(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise GraphError(f"Unknown template {name!r}. Choose one of: "
                         f"{', '.join(TEMPLATES)}.") from None


def build(name: str, input_shape: Sequence[int] | None = None) -> Graph:
    """A fresh graph of template ``name`` (laid out), with ``input_shape`` if given."""
    graph = get(name).make()
    if input_shape is not None:
        graph.set_param("input", "shape", tuple(input_shape))
    auto_layout(graph)
    return graph
