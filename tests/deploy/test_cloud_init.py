"""The Pi first-boot files: cloud-init accepts user-data, network-config renders, meta-data
is what NoCloud reads, and firstboot.sh does the right thing for each blade.env."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.deploy.tools import DEPLOY, need

PI = DEPLOY / "pi"
USER_DATA = PI / "user-data"
SYSTEM_PYTHON = "/usr/bin/python3"  # cloud-init's own interpreter (Debian package)


def test_user_data_is_cloud_config_yaml() -> None:
    text = USER_DATA.read_text()
    assert text.startswith("#cloud-config\n")
    data = yaml.safe_load(text)
    assert {"conclave"} <= {u if isinstance(u, str) else u["name"] for u in data["users"]}
    assert "python3-venv" in data["packages"] and "avahi-daemon" in data["packages"]
    # The same file on every blade: nothing per-blade in it.
    assert "hostname" not in data and "blade-0" not in yaml.safe_dump(data)
    [command] = data["runcmd"]
    script = command[-1]
    assert "/boot/firmware/conclave" in script and "/boot/conclave" in script
    assert "firstboot.sh" in script


def test_cloud_init_schema_accepts_user_data() -> None:
    [cloud_init] = need("cloud-init")
    result = subprocess.run(
        [cloud_init, "schema", "--config-file", str(USER_DATA)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout


def test_cloud_init_schema_rejects_a_broken_user_data(tmp_path: Path) -> None:
    [cloud_init] = need("cloud-init")
    broken = tmp_path / "user-data"
    broken.write_text(USER_DATA.read_text().replace("package_upgrade: false", "package_upgrade: 7"))
    result = subprocess.run(
        [cloud_init, "schema", "--config-file", str(broken)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "package_upgrade" in result.stdout + result.stderr


def _cloud_init_python(code: str) -> str:
    need("cloud-init")
    if not Path(SYSTEM_PYTHON).exists():
        pytest.skip("cloud-init's python3 not found")
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0 and "No module named 'cloudinit'" in result.stderr:
        pytest.skip("cloud-init's Python package not importable (apt-get install cloud-init)")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_top_level_key_is_a_cloud_init_module_key() -> None:
    # cloud-init's schema allows unknown keys, so a typo ("package_updates") would pass the
    # schema check and silently do nothing; hold every key to the modules' own schemas.
    code = textwrap.dedent(
        """
        import json
        from cloudinit.config.schema import get_schema
        schema = get_schema()
        keys = set()
        for ref in schema["allOf"]:
            module = schema["$defs"][ref["$ref"].rsplit("/", 1)[-1]]
            for part in [module, *module.get("allOf", []), *module.get("anyOf", [])]:
                keys |= set(part.get("properties", {}))
        print(json.dumps(sorted(keys)))
        """
    )
    known = set(json.loads(_cloud_init_python(code)))
    used = set(yaml.safe_load(USER_DATA.read_text()))
    assert used - known == set()


@pytest.mark.parametrize(
    ("distro", "kind", "expect"),
    [("ubuntu", "netplan", "dhcp4: true"), ("debian", "network-manager", "method=auto")],
)
def test_network_config_renders(tmp_path: Path, distro: str, kind: str, expect: str) -> None:
    [cloud_init] = need("cloud-init")
    result = subprocess.run(
        [
            cloud_init, "devel", "net-convert", "--network-data", str(PI / "network-config"),
            "--kind", "yaml", "--distro", distro, "--output-kind", kind,
            "--directory", str(tmp_path),
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rendered = "\n".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert "eth0" in rendered and expect in rendered


def test_meta_data_template() -> None:
    data = yaml.safe_load((PI / "meta-data").read_text())
    assert set(data) == {"instance-id", "local-hostname"}


# ---- firstboot.sh, run against a scratch root with stub system commands ----

STUBS = ("hostnamectl", "systemctl", "useradd", "runuser", "chown", "logger", "hostname")


@pytest.fixture
def blade(tmp_path: Path) -> dict[str, Path]:
    """A boot partition copy, a scratch root, and stubs that log their arguments."""
    boot = tmp_path / "boot" / "conclave"
    boot.mkdir(parents=True)
    (boot / "conclave-agent.service").write_text("[Service]\n")
    root = tmp_path / "root"
    root.mkdir()
    stubs = tmp_path / "bin"
    stubs.mkdir()
    calls = tmp_path / "calls.log"
    for name in STUBS:
        body = "echo old-name\n" if name == "hostname" else ""
        _script(stubs / name, f'echo "{name} $*" >> "{calls}"\n{body}')
    # python3 -m venv DIR: make DIR/bin/{python,pip} that log their arguments too.
    _script(
        stubs / "python3",
        f'echo "python3 $*" >> "{calls}"\n'
        'dir="${@: -1}"; mkdir -p "$dir/bin"\n'
        f'printf \'#!/bin/sh\\necho "pip $*" >> "{calls}"\\n\' > "$dir/bin/pip"\n'
        f'printf \'#!/bin/sh\\necho "venv-python $*" >> "{calls}"\\n\' > "$dir/bin/python"\n'
        'chmod +x "$dir/bin/pip" "$dir/bin/python"\n',
    )
    return {"boot": boot, "root": root, "stubs": stubs, "calls": calls}


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def _firstboot(blade: dict[str, Path], env_text: str) -> tuple[subprocess.CompletedProcess, str]:
    (blade["boot"] / "blade.env").write_text(env_text)
    env = {
        **os.environ,
        "PATH": f"{blade['stubs']}:{os.environ['PATH']}",
        "CONCLAVE_FIRSTBOOT_ROOT": str(blade["root"]),
        "CONCLAVE_BOOT_DIR": str(blade["boot"]),
    }
    result = subprocess.run(
        ["bash", str(PI / "firstboot.sh")], env=env, capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    calls = blade["calls"].read_text() if blade["calls"].exists() else ""
    return result, calls


def test_firstboot_with_a_wheelhouse(blade: dict[str, Path]) -> None:
    wheels = blade["boot"] / "wheelhouse"
    wheels.mkdir()
    (wheels / "conclave-0.1.0-py3-none-any.whl").write_bytes(b"")
    result, calls = _firstboot(
        blade,
        "CONCLAVE_BLADE_NAME=blade-05\nCONCLAVE_WHEELHOUSE=wheelhouse\n"
        "CONCLAVE_MODEL_FILE=\nCONCLAVE_MEMORY_MAX=3G\nCONCLAVE_AGENT_SLOTS=2\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    pip = "pip install --disable-pip-version-check --no-input"
    assert f"{pip} --no-index --find-links {wheels} conclave" in calls
    assert "compiling llama-cpp-python" not in result.stdout
    assert "hostnamectl set-hostname blade-05" in calls
    assert "systemctl enable conclave-agent.service" in calls
    assert "systemctl start conclave-agent.service" in calls
    agent_env = (blade["root"] / "etc/conclave/agent.env").read_text()
    for line in (
        "CONCLAVE_AGENT_NAME=blade-05",
        "CONCLAVE_AGENT_HOST=0.0.0.0",
        "CONCLAVE_AGENT_ANNOUNCE=true",
        "CONCLAVE_AGENT_SLOTS=2",
    ):
        assert line in agent_env.splitlines()
    assert "CONCLAVE_AGENT_MODEL=" not in agent_env  # the bundled model
    # The bundled model is assembled ahead of the first start, as the service user.
    assert f"runuser -u conclave -- {blade['root']}/opt/conclave/venv/bin/python -c" in calls
    dropin = blade["root"] / "etc/systemd/system/conclave-agent.service.d/memory.conf"
    assert dropin.read_text() == "[Service]\nMemoryMax=3G\n"
    assert (blade["root"] / "etc/systemd/system/conclave-agent.service").exists()
    log = (blade["root"] / "var/log/conclave-firstboot.log").read_text()
    assert "conclave-firstboot: done" in log
    assert "conclave agent call --addr blade-05.local:50051" in log


def test_firstboot_without_a_wheelhouse_compiles_and_says_so(blade: dict[str, Path]) -> None:
    src = blade["boot"] / "src"
    src.mkdir()
    (src / "requirements.lock").write_text("llama-cpp-python==0.3.36\n")
    (src / "conclave-0.1.0-py3-none-any.whl").write_bytes(b"")
    result, calls = _firstboot(blade, "CONCLAVE_BLADE_NAME=blade-06\nCONCLAVE_WHEELHOUSE=\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no wheelhouse: compiling llama-cpp-python from source on this blade" in result.stdout
    assert f"-r {src}/requirements.lock" in calls
    assert f"--no-deps {src}/conclave-0.1.0-py3-none-any.whl" in calls


def test_firstboot_with_a_url_wheelhouse_and_a_model(blade: dict[str, Path]) -> None:
    models = blade["boot"] / "models"
    models.mkdir()
    (models / "qwen.gguf").write_bytes(b"GGUF")
    result, calls = _firstboot(
        blade,
        "CONCLAVE_BLADE_NAME=blade-07\r\n"  # an editor on Windows
        'CONCLAVE_WHEELHOUSE="http://head.local:8000/"\r\n'
        "CONCLAVE_MODEL_FILE=models/qwen.gguf\r\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--no-index --find-links http://head.local:8000/ conclave" in calls
    assert (blade["root"] / "var/lib/conclave/models/qwen.gguf").read_bytes() == b"GGUF"
    agent_env = (blade["root"] / "etc/conclave/agent.env").read_text()
    assert "CONCLAVE_AGENT_MODEL=/var/lib/conclave/models/qwen.gguf" in agent_env.splitlines()
    assert "CONCLAVE_AGENT_NAME=blade-07" in agent_env.splitlines()


def test_firstboot_never_executes_blade_env(blade: dict[str, Path], tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    src = blade["boot"] / "src"
    src.mkdir()
    (src / "requirements.lock").write_text("")
    (src / "conclave-0.1.0-py3-none-any.whl").write_bytes(b"")
    result, _ = _firstboot(
        blade,
        f"CONCLAVE_BLADE_NAME=blade-08\nCONCLAVE_AGENT_SLOTS=$(touch {marker})\n"
        f"touch {marker}\nPATH=/nowhere\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not marker.exists()
    assert "ignoring unknown setting PATH" in result.stdout
    agent_env = (blade["root"] / "etc/conclave/agent.env").read_text()
    assert f"CONCLAVE_AGENT_SLOTS=$(touch {marker})" in agent_env  # data, kept verbatim


def test_firstboot_refuses_a_bad_name_and_runs_once(blade: dict[str, Path]) -> None:
    result, _ = _firstboot(blade, "CONCLAVE_BLADE_NAME=Blade_01\n")
    assert result.returncode == 1 and "not a valid hostname" in result.stdout
    marker = blade["root"] / "var/lib/conclave/.firstboot-done"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    result, _ = _firstboot(blade, "CONCLAVE_BLADE_NAME=blade-01\n")
    assert result.returncode == 0 and "already done" in result.stdout


def test_shell_scripts_pass_shellcheck() -> None:
    [shellcheck] = need("shellcheck")
    scripts = [PI / "firstboot.sh", *sorted((DEPLOY / "wheelhouse").glob("*.sh"))]
    result = subprocess.run(
        [shellcheck, "--severity=style", *map(str, scripts)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_firstboot_moves_the_swarm_secrets_off_the_boot_partition(blade: dict[str, Path]) -> None:
    wheels = blade["boot"] / "wheelhouse"
    wheels.mkdir()
    (wheels / "conclave-0.1.0-py3-none-any.whl").write_bytes(b"")
    swarm = blade["boot"] / "swarm"
    swarm.mkdir()
    for name in ("token", "ca.pem", "agent.pem", "agent.key"):
        (swarm / name).write_text(f"{name} contents\n")
    result, calls = _firstboot(
        blade,
        "CONCLAVE_BLADE_NAME=blade-05\nCONCLAVE_WHEELHOUSE=wheelhouse\nCONCLAVE_SWARM=swarm\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    dest = blade["root"] / "etc/conclave/swarm"
    for name in ("token", "ca.pem", "agent.pem", "agent.key"):
        assert (dest / name).read_text() == f"{name} contents\n"
        assert (dest / name).stat().st_mode & 0o777 == 0o640
        assert not (swarm / name).exists()  # anyone with the SD card could read it there
        assert f"chown root:conclave {dest / name}" in calls
    assert dest.stat().st_mode & 0o777 == 0o750
    agent_env = (blade["root"] / "etc/conclave/agent.env").read_text().splitlines()
    for line in (
        "CONCLAVE_AGENT_SWARM_TOKEN_FILE=/etc/conclave/swarm/token",
        "CONCLAVE_AGENT_SWARM_CA=/etc/conclave/swarm/ca.pem",
        "CONCLAVE_AGENT_SWARM_CERT=/etc/conclave/swarm/agent.pem",
        "CONCLAVE_AGENT_SWARM_KEY=/etc/conclave/swarm/agent.key",
    ):
        assert line in agent_env
    # And the agent's settings read them: every name is a real setting.
    from conclave.services.settings import AgentSettings

    names = {line.partition("=")[0] for line in agent_env if line.startswith("CONCLAVE_AGENT_")}
    assert {n.removeprefix("CONCLAVE_AGENT_").lower() for n in names} <= set(
        AgentSettings.model_fields
    )


def test_firstboot_refuses_a_swarm_folder_without_a_token(blade: dict[str, Path]) -> None:
    (blade["boot"] / "wheelhouse").mkdir()
    (blade["boot"] / "wheelhouse" / "conclave-0.1.0-py3-none-any.whl").write_bytes(b"")
    (blade["boot"] / "swarm").mkdir()
    result, _ = _firstboot(
        blade,
        "CONCLAVE_BLADE_NAME=blade-05\nCONCLAVE_WHEELHOUSE=wheelhouse\nCONCLAVE_SWARM=swarm\n",
    )
    assert result.returncode == 1
    assert "has no token" in result.stdout
