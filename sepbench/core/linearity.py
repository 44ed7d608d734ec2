"""Whether a model is one affine map in disguise: no nonlinearity between its layers.

Convolutions of every kind, batch norm at inference, pooling and dense layers are affine; a composition
of affine maps is one affine map.  Only ``relu`` (the one nonlinear kind of :data:`LAYER_KINDS`) breaks
the chain; the closing softmax applies to the outputs and is no layer in between.  The study's models have
none (Keras's ``activation=None`` default): each computes ``softmax(A x + b)`` with ``A`` of shape
``(classes, pixels)``, a multinomial logistic regression, which explains their accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sepbench.core.spec import LAYER_KINDS, ModelSpec

NONLINEAR_KINDS: tuple[str, ...] = tuple(k for k in LAYER_KINDS if k == "relu")  # every other kind is affine at inference


@dataclass(frozen=True)
class AffineCollapse:
    """The one affine map ``y = A x + b`` a model without a nonlinearity computes (before its softmax)."""

    inputs: int  # values per image in (pixels x channels)
    outputs: int  # values per image out (classes)
    params: int  # A and b: inputs x outputs + outputs
    macs: int  # multiply-accumulates per image of A x: inputs x outputs


def affine_collapse(spec: ModelSpec) -> AffineCollapse | None:
    """The affine map ``spec`` collapses to, or ``None`` when a nonlinear layer (:data:`NONLINEAR_KINDS`) sits between its layers."""
    if any(layer.kind in NONLINEAR_KINDS for layer in spec.layers):
        return None
    n_in, n_out = math.prod(spec.input_shape), math.prod(spec.output_shape)
    return AffineCollapse(n_in, n_out, n_in * n_out + n_out, n_in * n_out)
