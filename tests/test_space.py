"""The repository is a Hugging Face Space that deploys as it is: files the Hub takes, front-matter that
agrees with the code, the Debian packages the app needs, and a deploy plan with PyTorch's CPU wheels."""
import ast
import fnmatch
import re

import pytest
from packaging.specifiers import SpecifierSet

from drumgen import deploy
from tests.conftest import ROOT

NATIVE = {"fluidsynth": "libfluidsynth3", "soundfile": "libsndfile1"}  # Python import -> the Debian library it loads


def front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("---\n")[1]
    return {k.strip(): v.strip().strip('"') for k, v in (line.split(":", 1) for line in block.splitlines() if ":" in line)}


def lfs_patterns() -> list[str]:
    path = ROOT / ".gitattributes"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [line.split()[0] for line in lines if "filter=lfs" in line]


def test_every_tracked_file_is_small_enough_or_in_lfs():
    patterns = lfs_patterns()
    big = [p for p in deploy.tracked_files() if (ROOT / p).stat().st_size > deploy.MAX_FILE_BYTES
           and not any(fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(p.rsplit("/", 1)[-1], pat) for pat in patterns)]
    assert not big, f"over 10 MiB with no LFS rule (the Hub refuses the push): {big}"


def test_front_matter_agrees_with_the_repository():
    meta = front_matter()
    assert meta["sdk"] == "gradio" and (ROOT / meta["app_file"]).is_file()
    spec = next(line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
                if re.match(r"gradio\s*[<>=!~]", line))
    assert meta["sdk_version"] in SpecifierSet(spec[len("gradio"):]), (meta["sdk_version"], spec)
    import gradio
    assert gradio.__version__ in SpecifierSet(spec[len("gradio"):])
    assert meta["python_version"] == "3.11"


def test_packages_txt_has_what_the_app_imports_natively():
    wanted = set()
    for path in [ROOT / "app.py", *(ROOT / "drumgen").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            wanted |= {NATIVE[n.split(".")[0]] for n in names if n.split(".")[0] in NATIVE}
    listed = {line.split("#")[0].strip() for line in (ROOT / "packages.txt").read_text().splitlines()} - {""}
    assert wanted and wanted <= listed, f"packages.txt misses {wanted - listed}"


def test_the_deploy_plan_takes_torch_from_the_cpu_wheels():
    files = deploy.plan()
    requirements = files["requirements.txt"].decode()
    assert requirements.startswith(f"--extra-index-url {deploy.CPU_INDEX}\n") and "torch==2.13.0" in requirements
    assert (ROOT / "requirements.txt").read_text().count("extra-index-url") == 0  # the repository's own stays
    assert "app.py" in files and "checkpoints/controlled_gmd.pth" in files and not any(p.startswith(".venv") for p in files)
    assert all(len(b) <= deploy.MAX_FILE_BYTES for b in files.values())


def test_the_deploy_plan_refuses_a_file_the_hub_would(tmp_path, monkeypatch):
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (deploy.MAX_FILE_BYTES + 1))
    (tmp_path / "requirements.txt").write_text("torch==2.13.0\n")
    monkeypatch.setattr(deploy, "tracked_files", lambda root=tmp_path: ["big.bin", "requirements.txt"])
    with pytest.raises(ValueError, match="over the Hub's"):
        deploy.plan(tmp_path)
