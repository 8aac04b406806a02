"""serverless.yml against the scf component's documented inputs, and the deploy files beside it.

Sources:
- the scf component's inputs: doc 1154/39271 (Serverless Cloud Framework, "SCF 组件") and its full
  configuration page, serverless-components/tencent-scf docs/configure.md, which cites doc 583/18586
  for the function fields (description: letters, digits, spaces, commas, newlines, periods, Chinese;
  memorySize 64 or 128-3072 in steps of 128; timeout 1-900 s; initTimeout 1-30 s);
- the Function URL trigger: tencent-component-toolkit src/modules/triggers/http.ts (trigger Type
  "http"; parameters name, qualifier (default $DEFAULT), authType (default NONE), netConfig
  enableIntranet/enableExtranet (both default false), corsConfig); CreateTrigger doc 583/100227;
  event shape doc 583/96099.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from cssai.settings import Settings
from tests.conftest import ROOT

DOCUMENTED_INPUTS = {
    "name", "namespace", "role", "enableRoleAuth", "src", "handler", "runtime", "region", "description",
    "memorySize", "timeout", "initTimeout", "environment", "publicAccess", "vpcConfig", "cfs", "deadLetter",
    "layers", "cls", "eip", "asyncRunEnable", "tags", "events", "type",
}
HTTP_PARAMETERS = {"name", "qualifier", "authType", "netConfig", "corsConfig"}
DESCRIPTION = re.compile(r"[A-Za-z0-9 ,.\n\u4e00-\u9fff]{1,1000}")
ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((ROOT / "serverless.yml").read_text(encoding="utf-8"))


def uncommented(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def test_top_level_and_inputs_are_documented(config: dict) -> None:
    assert config["component"] == "scf"
    assert set(config) <= {"org", "app", "stage", "component", "name", "inputs"}
    inputs = config["inputs"]
    assert set(inputs) <= DOCUMENTED_INPUTS, set(inputs) - DOCUMENTED_INPUTS
    assert inputs["runtime"] == "Python3.10" and inputs["handler"] == "index.main_handler"
    assert inputs["src"] == {"src": "./build"}


def test_function_fields_are_in_their_documented_ranges(config: dict) -> None:
    inputs = config["inputs"]
    assert inputs["memorySize"] == 64 or (128 <= inputs["memorySize"] <= 3072 and inputs["memorySize"] % 128 == 0)
    assert 1 <= inputs["initTimeout"] <= 30
    assert 1 <= inputs["timeout"] <= 900
    deadline = float(inputs["environment"]["variables"]["DEADLINE_SECONDS"])
    assert inputs["timeout"] > deadline  # the receiver always answers by itself
    assert DESCRIPTION.fullmatch(inputs["description"]), inputs["description"]


def test_the_trigger_is_a_function_url_reachable_from_the_internet(config: dict) -> None:
    events = config["inputs"]["events"]
    assert [next(iter(e)) for e in events] == ["http"]  # no apigw: new gateways cannot be created
    params = events[0]["http"]["parameters"]
    assert set(params) <= HTTP_PARAMETERS
    assert params["authType"] == "NONE"  # CSS cannot sign CAM requests
    assert params["qualifier"] == "$DEFAULT"
    assert params["netConfig"]["enableExtranet"] is True  # the toolkit's default is false
    assert isinstance(params["netConfig"]["enableIntranet"], bool)
    assert "apigw" not in uncommented(ROOT / "serverless.yml")


def test_every_env_reference_has_a_value_in_the_example(config: dict) -> None:
    refs = set(ENV_REF.findall(uncommented(ROOT / "serverless.yml")))
    example = {line.split("=", 1)[0] for line in (ROOT / "deploy" / "env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert refs and refs <= example, refs - example


def test_environment_variables_are_settings(config: dict) -> None:
    names = {name.lower() for name in config["inputs"]["environment"]["variables"]}
    assert names <= set(Settings.model_fields), names - set(Settings.model_fields)
    assert {"css_callback_keys", "callback_url_tokens", "cos_bucket", "cls_topic_id"} <= names


def test_cam_policies_grant_what_runs(config: dict) -> None:
    role = json.loads((ROOT / "deploy" / "cam-policy.json").read_text())
    operator = json.loads((ROOT / "deploy" / "cam-policy-operator.json").read_text())

    def actions(policy: dict) -> set[str]:
        assert policy["version"] == "2.0"
        return {a for s in policy["statement"] for a in s["action"]}

    assert {"name/cos:PutObject", "name/cos:GetObject", "name/cos:HeadObject", "name/cls:UploadLog"} <= actions(role)
    assert "name/cos:DeleteObject" not in actions(role)  # the function never deletes
    assert {"name/cos:GetBucket", "name/cos:GetBucketVersioning", "name/cos:DeleteObject"} <= actions(operator)
    deletes = [s for s in operator["statement"] if "name/cos:DeleteObject" in s["action"]]
    assert all(r.endswith("/doctor/*") for s in deletes for r in s["resource"])  # only doctor's probes


def test_the_web_function_bootstrap_serves_on_port_9000() -> None:
    bootstrap = (ROOT / "scf_bootstrap").read_text()
    assert "serve" in bootstrap and "--port 9000" in bootstrap and "python3.10" in bootstrap


def test_the_package_ships_bytecode_for_python_3_10() -> None:
    """SCF's code folder is read-only: without .pyc every cold start compiles the SDKs (+400 ms, +50 MB)."""
    build = (ROOT / "deploy" / "build.sh").read_text()
    assert "compileall" in build and "versions/3.10" in build and "unchecked-hash" in build
    assert "compileall" in (ROOT / ".ci" / "run").read_text()  # the tests measure the same way
