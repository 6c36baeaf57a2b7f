import subprocess
import sys

import embedkit
from embedkit import errors


def test_public_surface_is_pinned():
    assert sorted(embedkit.__all__) == sorted(
        ["Encoder", "EmbedkitError", "VectorStore", "WordVectors", "load", "open", "__version__"])
    for name in embedkit.__all__:
        assert getattr(embedkit, name) is not None


def test_import_does_not_import_torch_or_transformers():
    code = ("import sys, embedkit; embedkit.VectorStore; "
            "print(sorted(m for m in ('torch', 'transformers', 'numba', 'hnswlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_one_exception_tree_maps_to_exit_codes_and_http_statuses():
    cases = {
        errors.InvalidInput("x"): (2, 422),
        errors.DimensionMismatch("x"): (2, 422),
        errors.ModelNotFound("x"): (3, 404),
        errors.BackendUnavailable("x"): (4, 501),
        errors.StoreNotFound("x"): (5, 404),
        errors.ModelMismatch("x"): (5, 409),
        errors.StoreCorrupt("x"): (5, 500),
        errors.NotFitted("x"): (6, 409),
    }
    for exc, (code, status) in cases.items():
        assert isinstance(exc, embedkit.EmbedkitError)
        assert errors.exit_code(exc) == code, exc
        assert errors.http_status(exc) == status, exc
    assert isinstance(errors.InvalidInput("x"), ValueError)
    assert isinstance(errors.BackendUnavailable("x"), ImportError)


def test_require_names_the_extra_to_install():
    try:
        errors.require("surely_not_a_module_xyz", "onnx", "the ONNX path")
    except errors.BackendUnavailable as exc:
        assert "pip install 'embedkit[onnx]'" in str(exc)
        assert "the ONNX path" in str(exc)
    else:
        raise AssertionError("require() did not raise")
