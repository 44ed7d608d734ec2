import pytest

from sepbench.core.spec import MODELS, LayerSpec, UnknownModelError, conv_macs, get_model_spec, separable_conv_macs


def test_totals_match_the_study():
    assert MODELS["regular"].params == 8586
    assert MODELS["separable"].params == 1427


@pytest.mark.parametrize(
    "model, params",
    [("regular", [400, 3216, 4640, 0, 330]), ("separable", [65, 344, 688, 0, 330])],
)
def test_per_layer_params(model, params):
    assert [r.params for r in MODELS[model].summary()] == params


@pytest.mark.parametrize("model", ["regular", "separable"])
def test_output_shapes(model):
    assert [r.output_shape for r in MODELS[model].summary()] == [(11, 11, 8), (4, 4, 16), (2, 2, 32), (32,), (10,)]


def test_worked_multiplication_example():
    # input 7x7x3, 32 output channels, 3x3 kernels, 'valid' output 5x5
    layer_reg = LayerSpec("c", "conv", 32, 3, 1)
    layer_sep = LayerSpec("c", "separable_conv", 32, 3, 1)
    assert layer_reg.output_shape((7, 7, 3)) == (5, 5, 32)
    assert layer_reg.macs((7, 7, 3)) == conv_macs(5, 5, 3, 32, 3) == 21_600
    assert layer_sep.macs((7, 7, 3)) == separable_conv_macs(5, 5, 3, 32, 3) == 675 + 2_400 == 3_075


def test_model_macs_and_ratio():
    reg, sep = MODELS["regular"], MODELS["separable"]
    assert reg.macs == 117_384
    assert sep.macs == 15_089
    assert round(sep.macs / reg.macs, 3) == 0.129


def test_tensor_shapes_are_keras_layout():
    shapes = MODELS["separable"].tensor_shapes()
    assert shapes["conv1/depthwise_kernel"] == (7, 7, 1, 1)
    assert shapes["conv2/pointwise_kernel"] == (1, 1, 8, 16)
    assert shapes["conv3/bias"] == (32,)
    assert MODELS["regular"].tensor_shapes()["dense/kernel"] == (32, 10)


def test_unknown_model_is_a_clear_error():
    with pytest.raises(UnknownModelError, match="unknown model 'bogus'.*regular, separable"):
        get_model_spec("bogus")


def test_bad_layer_specs_rejected():
    with pytest.raises(ValueError, match="unknown kind"):
        LayerSpec("x", "pool", 1, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="filters, kernel and stride"):
        LayerSpec("x", "conv", 0, 3)
    with pytest.raises(ValueError, match="too small"):
        LayerSpec("x", "conv", 4, 9).output_shape((5, 5, 1))
