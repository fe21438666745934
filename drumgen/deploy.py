"""Deploy drumgen as a Hugging Face Space: `python -m drumgen.deploy USER/SPACE` (after `huggingface-cli login`).

What goes up is what git tracks (so no .venv, caches or data), in one commit, with one change: the
Space's requirements.txt takes PyTorch from its CPU wheel index. A Space installs requirements.txt
with plain pip from PyPI, where `torch==2.13.0` for Linux is the CUDA build (the wheel and its
NVIDIA libraries are several GB: minutes of every cold build, on a CPU-only machine that never uses
them); the CPU wheel is a few hundred MB. The repository's own requirements.txt stays as it is: these
machines install the same pinned version from a CPU wheel on disk.

    python -m drumgen.deploy me/drumgen --dry-run    # the files and the requirements it would upload
    python -m drumgen.deploy me/drumgen              # create the Space (CPU basic) if needed, upload
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
MAX_FILE_BYTES = 10 * 1024 * 1024  # what the Hub takes in a plain git push without LFS
HARDWARE = "cpu-basic"


def tracked_files(root: Path = ROOT) -> list[str]:
    """The files git tracks, as paths relative to the repository."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return sorted(p for p in out.decode().split("\0") if p and (root / p).is_file())


def space_requirements(text: str) -> str:
    """requirements.txt with PyTorch taken from its CPU wheel index (and every other package from PyPI)."""
    lines = [line for line in text.splitlines() if not line.strip().startswith("--extra-index-url")]
    return "\n".join([f"--extra-index-url {CPU_INDEX}", *lines]) + "\n"


def plan(root: Path = ROOT) -> dict[str, bytes]:
    """Path in the Space -> the bytes to upload; ValueError for a file the Hub would refuse."""
    files = {}
    for path in tracked_files(root):
        data = (root / path).read_bytes()
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"{path} is {len(data):,} bytes, over the Hub's {MAX_FILE_BYTES:,} without LFS: "
                             "store its weights as float16 (python -m drumgen.models.format CKPT)")
        files[path] = data
    files["requirements.txt"] = space_requirements(files["requirements.txt"].decode()).encode()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("space", help="the Space's id, e.g. me/drumgen")
    parser.add_argument("--dry-run", action="store_true", help="list what would be uploaded, upload nothing")
    parser.add_argument("--private", action="store_true")
    args = parser.parse_args(argv)
    try:
        files = plan()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = sum(len(b) for b in files.values())
    print(f"{len(files)} files, {total / 1e6:.1f} MB, to the Space {args.space} ({HARDWARE})")
    if args.dry_run:
        for path, data in files.items():
            print(f"  {len(data):>10,}  {path}")
        print("requirements.txt as uploaded:\n" + files["requirements.txt"].decode())
        return 0
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = HfApi()
    api.create_repo(args.space, repo_type="space", space_sdk="gradio", space_hardware=HARDWARE, private=args.private,
                    exist_ok=True)
    operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=data) for path, data in files.items()]
    gone = [p for p in api.list_repo_files(args.space, repo_type="space") if p not in files and p != ".gitattributes"]
    operations += [CommitOperationDelete(path_in_repo=p) for p in gone]  # files a former deploy left
    info = api.create_commit(args.space, operations, repo_type="space", commit_message="Deploy drumgen")
    print(f"uploaded: {info.commit_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
