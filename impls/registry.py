"""The backends, by name.  Adding a backend is one module plus one line in :data:`BACKEND_MODULES`.

Backend modules import their framework at module level; this registry imports a backend module
only when that backend is asked for, so a missing framework costs only that backend.
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import cache

from impls.base import Backend, InferenceModel
from sepbench.core.spec import ModelSpec
from sepbench.core.weights import PortableWeights

BACKEND_MODULES: dict[str, tuple[str, str]] = {
    # name: (module, framework package it needs)
    "numpy": ("impls.numpy_backend", "numpy"),
    "tensorflow": ("impls.tensorflow_backend", "tensorflow"),
    "torch": ("impls.torch_backend", "torch"),
    "onnxruntime": ("impls.onnxruntime_backend", "onnxruntime"),
    "litert": ("impls.litert_backend", "ai_edge_litert"),
    "openvino": ("impls.openvino_backend", "openvino"),
}


# the pip extra of sepbench that installs a framework, where its name is not the framework's (pyproject.toml)
EXTRAS = {"tensorflow": "tf", "onnxruntime": "onnx", "ai_edge_litert": "litert"}


class UnknownBackendError(KeyError, ValueError):
    """A backend name that is not registered (a ValueError too: the CLI reports it as one line)."""

    def __str__(self) -> str:  # KeyError's would quote the message
        return str(self.args[0]) if self.args else ""


class BackendUnavailableError(ImportError):
    """A registered backend whose framework is not installed or fails to import."""


def backend_names() -> list[str]:
    """Every registered backend, installed or not."""
    return list(BACKEND_MODULES)


def framework_packages() -> list[str]:
    """The import package of each registered backend's framework, once each, in registry order."""
    return list(dict.fromkeys(framework for _, framework in BACKEND_MODULES.values()))


def distribution_name(package: str) -> str:
    """The pip distribution of an import package named in :data:`BACKEND_MODULES` (``ai_edge_litert`` -> ``ai-edge-litert``)."""
    return package.replace("_", "-")


def check_backend_name(name: str) -> tuple[str, str]:
    try:
        return BACKEND_MODULES[name]
    except (KeyError, TypeError):
        raise UnknownBackendError(f"unknown backend {name!r}; known backends: {', '.join(BACKEND_MODULES)}") from None


@cache
def _load(name: str) -> Backend:
    module_name, framework = check_backend_name(name)
    try:
        missing = importlib.util.find_spec(framework) is None
    except (ImportError, ValueError):  # a half-installed package can fail even to be looked up
        missing = True
    if missing:
        raise BackendUnavailableError(
            f"backend {name!r} needs {framework!r}, which is not installed "
            f"(install it with `pip install 'sepbench[{EXTRAS.get(framework, framework)}]'`)"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - a framework can fail to import in many ways (a missing .so: OSError)
        raise BackendUnavailableError(f"backend {name!r}: importing {framework!r} failed ({type(exc).__name__}: {exc})") from exc
    return module.BACKEND


def get_backend(name: str) -> Backend:
    """The backend called ``name``; raises :class:`UnknownBackendError` or :class:`BackendUnavailableError`."""
    check_backend_name(name)
    return _load(name)


def unavailable_reason(name: str) -> str | None:
    """``None`` if the backend loads, else why not (imports the framework)."""
    try:
        get_backend(name)
    except BackendUnavailableError as exc:
        return str(exc)
    return None


def available_backends(names: list[str] | None = None) -> list[str]:
    """The backends (of ``names``, default all) whose framework imports."""
    return [n for n in (names or backend_names()) if unavailable_reason(n) is None]


def build_model(backend: str, model: str | ModelSpec, weights: PortableWeights | None = None, seed: int = 0) -> InferenceModel:
    """Shortcut: ``get_backend(backend).build_model(model, weights, seed)``."""
    return get_backend(backend).build_model(model, weights, seed)
