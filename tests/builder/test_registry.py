"""A graph as a registry entry: it builds for the data's classes and image size, and a misfit
says which block to change."""

from __future__ import annotations

import pytest
import torch

from playground.builder import templates
from playground.builder.registry import model_entry
from playground.core.errors import ConfigError
from playground.core.registry import ModelSpec, Registry


def test_a_graph_entry_builds_and_says_what_to_change():
    registry = Registry("image")
    entry = registry.register(model_entry(templates.build("resnet_stack")))
    assert entry.name == "graph:resnet_stack" and entry.extra["output_shape"] == [10]
    model = entry.factory(ModelSpec(task="image", num_outputs=10, num_inputs=3, input_size=48))
    assert model(torch.randn(2, 3, 48, 48)).shape == (2, 10)   # global pooling: any size
    with pytest.raises(ConfigError, match="ends in 10 outputs but the data has 4 classes: set "
                                          "out_features of 'fc' to 4."):
        entry.factory(ModelSpec(task="image", num_outputs=4, num_inputs=3, input_size=32))
    lenet = model_entry(templates.build("lenet5"))
    # a 1-channel graph takes the tab's colour images as their grey mean
    grey = lenet.factory(ModelSpec(task="image", num_outputs=10, num_inputs=3, input_size=28))
    assert grey(torch.randn(2, 3, 28, 28)).shape == (2, 10)
    with pytest.raises(ConfigError, match="does not take the 1x32x32 inputs of this data \\(it "
                                          "was built for 1x28x28: set the Image size to 28\\): "
                                          "Linear 'fc1' expects 400 input features but gets 576"):
        lenet.factory(ModelSpec(task="image", num_outputs=10, num_inputs=1, input_size=32))
