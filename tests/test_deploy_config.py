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
import os
import re
import shutil
import subprocess
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
    assert "initTimeout" not in inputs or 1 <= inputs["initTimeout"] <= 30
    assert 1 <= inputs["timeout"] <= 900
    deadline = float(inputs["environment"]["variables"]["DEADLINE_SECONDS"])
    assert inputs["timeout"] > deadline  # the receiver always answers by itself
    assert DESCRIPTION.fullmatch(inputs["description"]), inputs["description"]


def test_the_trigger_is_a_function_url_reachable_from_the_internet(config: dict) -> None:
    events = config["inputs"]["events"]
    assert [next(iter(e)) for e in events] == ["http", "timer"]  # no apigw: new gateways cannot be created
    params = events[0]["http"]["parameters"]
    assert set(params) <= HTTP_PARAMETERS
    assert params["authType"] == "NONE"  # CSS cannot sign CAM requests
    assert params["qualifier"] == "$DEFAULT"
    assert params["netConfig"]["enableExtranet"] is True  # the toolkit's default is false
    assert isinstance(params["netConfig"]["enableIntranet"], bool)
    assert "apigw" not in uncommented(ROOT / "serverless.yml")


TIMER_PARAMETERS = {"name", "qualifier", "cronExpression", "enable", "argument"}  # toolkit triggers/timer.ts


def create_trigger(config: dict) -> dict:
    """The CreateTrigger call tencent-component-toolkit makes for the timer event (triggers/timer.ts)."""
    (timer,) = [e["timer"] for e in config["inputs"]["events"] if "timer" in e]
    params = timer["parameters"]
    assert set(params) <= TIMER_PARAMETERS
    return {"Action": "CreateTrigger", "Type": "timer", "Qualifier": params.get("qualifier") or "$DEFAULT",
            "TriggerName": params.get("name") or timer.get("name"), "TriggerDesc": params.get("cronExpression"),
            "Enable": "OPEN" if params.get("enable") else "CLOSE", "CustomArgument": params.get("argument")}


def test_the_timer_resolves_to_a_create_trigger_that_runs_the_jobs_every_minute(config: dict) -> None:
    from cssai.jobs import timer

    call = create_trigger(config)
    assert call["Enable"] == "OPEN"  # the toolkit's default would create it closed
    fields = call["TriggerDesc"].split()
    assert len(fields) == 7 and fields[:2] == ["0", "*/1"] and fields[2:] == ["*"] * 5  # doc 583/9708
    assert call["TriggerName"] and call["Qualifier"] == "$DEFAULT"
    jobs, unknown = timer.named(call["CustomArgument"])  # the Message of every timer event
    assert jobs == list(timer.JOBS) and unknown == []
    event = {"Type": "Timer", "TriggerName": call["TriggerName"], "Time": "2026-12-05T12:00:00Z",
             "Message": call["CustomArgument"]}
    assert timer.is_timer(event)


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
    # the function deletes only delivered forwards (outbox/, outbox-dead/) and its jobs' old leases (jobs/)
    jobs_only = ("/css/outbox/*", "/css/outbox-dead/*", "/css/jobs/*")
    deletes = [s for s in role["statement"] if "name/cos:DeleteObject" in s["action"]]
    assert deletes and all(r.endswith(jobs_only) for s in deletes for r in s["resource"])
    assert "name/cos:GetBucket" in actions(role)  # the forward job lists its outbox
    assert {"name/cos:GetBucket", "name/cos:GetBucketVersioning", "name/cos:DeleteObject"} <= actions(operator)
    deletes = [s for s in operator["statement"] if "name/cos:DeleteObject" in s["action"]]
    assert all(r.endswith(("/doctor/*", *jobs_only)) for s in deletes for r in s["resource"])  # probes and jobs
    # exactly the read-only live actions the reconcile job calls; doctor's template check reads three more
    from cssai.jobs import live_api

    job_actions = {a.split(":", 1)[1] for a in actions(role) if a.startswith("name/live:")}
    assert job_actions == {live_api.EVENT_LIST, live_api.CALLBACK_RECORDS, live_api.ONLINE_LIST}  # reads only
    operator_live = {a.split(":", 1)[1] for a in actions(operator) if a.startswith("name/live:")}
    assert operator_live == job_actions | {"DescribeLiveCallbackRules", "DescribeLiveCallbackTemplates",
                                           "DescribeLiveDomains"}


def test_the_web_function_bootstrap_serves_on_port_9000() -> None:
    bootstrap = (ROOT / "scf_bootstrap").read_text()
    assert "serve" in bootstrap and "--port 9000" in bootstrap and "python3.10" in bootstrap


def test_the_package_ships_bytecode_for_python_3_10() -> None:
    """SCF's code folder is read-only: without .pyc every cold start compiles the SDKs (+400 ms, +50 MB)."""
    build = (ROOT / "deploy" / "build.sh").read_text()
    assert "compileall" in build and "versions/3.10" in build and "unchecked-hash" in build
    assert "compileall" in (ROOT / ".ci" / "run").read_text()  # the tests measure the same way


# What the deploy will send, resolved offline as the CLI resolves it --------------------------------------------

GOOD_ENV = {"STAGE": "prod", "REGION": "ap-shanghai", "SCF_ROLE": "css-receiver", "CSS_CALLBACK_KEYS": "k1",
            "CALLBACK_URL_TOKENS": "", "COS_BUCKET": "media-1300000001", "COS_REGION": "ap-shanghai",
            "COS_PREFIX": "css/", "CLS_TOPIC_ID": "t-1", "CLS_REGION": "ap-shanghai", "FORWARD_RULES": "",
            "FORWARD_SIGNING": "css", "FORWARD_SECRET": "", "RECONCILE_EVERY_SECONDS": "600",
            "RECONCILE_LOOKBACK_SECONDS": "7200"}
RUNTIMES = {"Python3.6", "Python3.7", "Python3.9", "Python3.10", "Python3.11", "Python3.12"}  # doc 583/18586


def resolve(node: object, env: dict[str, str]) -> object:
    """serverless.yml as the Serverless Cloud Framework resolves ``${env:X}``: an unset whole-value reference
    becomes JS ``undefined`` and disappears from the JSON inputs; inside a longer string it becomes "undefined"."""
    if isinstance(node, dict):
        resolved = {k: resolve(v, env) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not DROPPED}
    if isinstance(node, list):
        return [v for v in (resolve(v, env) for v in node) if v is not DROPPED]
    if isinstance(node, str):
        whole = ENV_REF.fullmatch(node)
        if whole:
            return env.get(whole.group(1), DROPPED)
        return ENV_REF.sub(lambda m: env.get(m.group(1), "undefined"), node)
    return node


DROPPED = object()


def create_function(config: dict, env: dict[str, str]) -> dict:
    """The CreateFunction parameters tencent-component-toolkit builds from the scf component's inputs."""
    inputs = resolve(config["inputs"], env)
    stage = env.get("STAGE", "dev")
    return {
        "Region": inputs.get("region", "ap-guangzhou"),  # the component's default
        "FunctionName": str(inputs["name"]).replace("${name}", config["name"]).replace("${stage}", stage),
        "Handler": inputs["handler"], "Runtime": inputs["runtime"], "MemorySize": inputs["memorySize"],
        "Timeout": inputs["timeout"], "InitTimeout": inputs.get("initTimeout", 65), "Role": inputs.get("role"),
        "Description": inputs["description"],
        "Environment": {"Variables": [{"Key": k, "Value": str(v)}
                                      for k, v in inputs["environment"]["variables"].items()]},
    }


def test_a_complete_env_resolves_to_a_valid_create_function(config: dict) -> None:
    params = create_function(config, GOOD_ENV)
    assert params["Region"] == "ap-shanghai" and params["FunctionName"] == "css-ai-callback-prod"
    assert params["Runtime"] in RUNTIMES and params["InitTimeout"] == 65  # the API's default, not cut
    variables = {v["Key"]: v["Value"] for v in params["Environment"]["Variables"]}
    assert variables["CSS_CALLBACK_KEYS"] == "k1" and "undefined" not in variables.values()
    assert set(GOOD_ENV) - {"STAGE", "REGION", "SCF_ROLE"} <= set(variables)


def test_an_unset_variable_is_dropped_not_deployed_as_undefined(config: dict) -> None:
    partial = {k: v for k, v in GOOD_ENV.items() if k not in ("REGION", "COS_BUCKET")}
    params = create_function(config, partial)
    assert params["Region"] == "ap-guangzhou"  # silently the component's default region
    assert "COS_BUCKET" not in {v["Key"] for v in params["Environment"]["Variables"]}
    embedded = resolve({"keys": "${env:A},${env:B}"}, {"A": "k1"})
    assert embedded == {"keys": "k1,undefined"}  # what the receiver refuses entry by entry


def build_check(tmp_path: Path, env_file: dict[str, str], **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "deploy").mkdir(exist_ok=True)
    shutil.copy(ROOT / "deploy" / "build.sh", tmp_path / "deploy" / "build.sh")
    shutil.copy(ROOT / "serverless.yml", tmp_path / "serverless.yml")
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env_file.items()))
    clean = {k: v for k, v in os.environ.items() if k not in GOOD_ENV}
    return subprocess.run(["bash", "deploy/build.sh"], cwd=tmp_path, env={**clean, "CHECK_ONLY": "1", **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_build_refuses_the_example_env_unchanged(tmp_path: Path) -> None:
    example = dict(line.split("=", 1) for line in (ROOT / "deploy" / "env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    run = build_check(tmp_path, example)
    assert run.returncode == 2
    for problem in ("COS_BUCKET is still the placeholder", "SCF_ROLE is still the placeholder",
                    "neither CSS_CALLBACK_KEYS nor CALLBACK_URL_TOKENS is set"):
        assert problem in run.stderr, problem


def test_build_refuses_an_unset_variable_saying_the_cli_would_drop_it(tmp_path: Path) -> None:
    run = build_check(tmp_path, {k: v for k, v in GOOD_ENV.items() if k != "REGION"})
    assert run.returncode == 2 and "REGION is not set: the deploy CLI would drop it" in run.stderr
    assert build_check(tmp_path, {k: v for k, v in GOOD_ENV.items() if k != "REGION"},
                       REGION="ap-beijing").returncode == 0  # the environment counts as well


def test_build_accepts_a_complete_env(tmp_path: Path) -> None:
    run = build_check(tmp_path, GOOD_ENV)
    assert run.returncode == 0 and "the settings are complete" in run.stdout
    tokens_only = {**GOOD_ENV, "CSS_CALLBACK_KEYS": "", "CALLBACK_URL_TOKENS": "t" * 20}
    assert build_check(tmp_path, tokens_only).returncode == 0


def test_the_guide_says_nothing_the_tools_contradict() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8") + (ROOT / "README.md").read_text()
    assert "sls deploy" not in guide.replace("`sls deploy` does not work", "")
    assert "deployed as the string `undefined`" not in guide and "initTimeout: 10" not in guide
    for step in ("index.py setup", "deploy/build.sh", "scf deploy", "index.py doctor", "index.py send"):
        assert step in guide, step
