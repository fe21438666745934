"""drumgen: turn a rhythm into a drum part (HVO models on a 16th-note grid)."""
from .hvo import VOICES  # noqa: F401

__version__ = "0.1.0"


def load_variational_mgt_model(path, device="cpu"):
    """Restore a MonotonicGrooveVAE saved with `model.save(path)` (imported lazily: torch is heavy)."""
    from .models.checkpoint import load_variational_mgt_model as _load

    return _load(path, device)


def load_model(path, device="cpu"):
    """Any drumgen checkpoint, ready to generate (one loaded copy per file and device)."""
    from .models.checkpoint import load_model as _load

    return _load(path, device)
