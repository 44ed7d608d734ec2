"""Size: parameters, multiply-accumulates and the native file, per backend and model.

These are exact figures: any change is a change of the model, which ``nox -s regress`` reports
whatever the factor.
"""

from __future__ import annotations

from benchmarks import common


class ModelSize:
    """Parameters (count) and native file size (bytes) as each backend builds and saves the model."""

    param_names = ["backend", "model"]
    params = [common.all_backends(), common.MODELS]
    timeout = 300

    def setup_cache(self) -> dict:
        """Build every available backend x model once: (parameter count, native bytes, format)."""
        from impls.registry import get_backend
        from sepbench.measure.extra_info import native_file_size

        weights = common.seeded_weights()
        out: dict = common.skipped_in_cache()
        for backend in common.runnable_backends():
            for model in common.MODELS:
                params = get_backend(backend).build(weights[model]).count_params()
                nbytes, fmt = native_file_size(backend, weights[model])
                out[(backend, model)] = (params, nbytes, fmt)
        return out

    def setup(self, cache: dict, backend: str, model: str) -> None:
        self.figures = common.cached(cache, backend, model)

    def track_params(self, cache: dict, backend: str, model: str) -> int:
        return int(self.figures[0])

    track_params.unit = "parameters"

    def track_native_bytes(self, cache: dict, backend: str, model: str) -> int:
        """Bytes of the backend's native file (Keras .h5, PyTorch .pt, NumPy .npz)."""
        return int(self.figures[1])

    track_native_bytes.unit = "bytes"


class ModelCost:
    """Multiply-accumulates per image, computed from the model spec (the same for every backend)."""

    param_names = ["model"]
    params = [common.MODELS]

    def setup_cache(self) -> dict:
        from sepbench.core.spec import get_model_spec

        return {m: get_model_spec(m).macs for m in common.MODELS}

    def track_macs_per_image(self, cache: dict, model: str) -> int:
        return int(cache[model])

    track_macs_per_image.unit = "MACs"
