"""Reading lab files: every lab of the repository is valid in both languages, and a lab
with mistakes is refused with each problem named by file, line and place."""
from __future__ import annotations

import pytest

import cluster.labs as labs
from cluster.labs import schema
from cluster.labs.schema import MISSING, LabFileError, parse, parse_path, resolve_path

from . import labfiles

GOOD_STEP = """
  - id: make
    text: {en: Make a ConfigMap., ko: 컨피그맵을 만드세요.}
    checks:
      - objectExists: {kind: ConfigMap, name: settings}
    solve:
      - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {a: "1"}}
"""


def lab_source(steps: str = GOOD_STEP, head: str = "") -> str:
    return labfiles.lab_source(steps, head=head)


def problems(source: str) -> list[str]:
    with pytest.raises(LabFileError) as caught:
        parse(source, "labs/x.yaml", expected_id="x")
    return [str(p) for p in caught.value.problems]


def test_every_lab_in_the_repository_is_valid_and_speaks_english_and_korean():
    files = labs.lab_files()
    assert len(files) >= 2
    for path in files:
        lab = schema.load_file(path)  # raises on any problem, a missing translation among them
        assert lab.id == path.stem
        texts = [lab.title, lab.summary, *(t for s in lab.steps for t in (s.title, s.text, s.solution, *s.hints) if t)]
        texts += [t for s in lab.steps if s.question for t in (s.question.question, s.question.explanation)]
        # Korean text, not a copy of the English (Kubernetes identifiers stay as they are).
        untranslated = [t.en for t in texts if t and not any("가" <= ch <= "힣" for ch in t.ko)]
        assert untranslated == [], f"{lab.id}: not translated: {untranslated}"


def test_the_catalogue_lists_the_first_two_labs_in_order():
    ids = [lab.id for lab in labs.catalogue()]
    assert ids[:2] == ["anatomy", "eight-steps"]


def test_a_good_lab_reads_into_steps_checks_and_actions():
    lab = parse(lab_source(), "labs/x.yaml", expected_id="x")
    [step] = lab.steps
    assert step.checks[0].type == "objectExists" and step.checks[0].args == {"kind": "ConfigMap", "name": "settings", "namespace": "default"}
    assert step.solve[0].type == "apply" and step.solve[0].arg[0]["metadata"]["name"] == "settings"
    assert step.checks[0].line == 9


def test_a_misspelt_check_is_named_with_its_file_its_line_and_the_nearest_name():
    source = lab_source(GOOD_STEP.replace("objectExists", "objectExist"))
    assert problems(source) == ["labs/x.yaml:9: steps[0].checks[0]: unknown check 'objectExist' (did you mean 'objectExists'?)"]


def test_a_missing_korean_text_is_a_problem_on_its_line():
    source = lab_source(GOOD_STEP.replace("{en: Make a ConfigMap., ko: 컨피그맵을 만드세요.}", "{en: Make a ConfigMap.}"))
    assert problems(source) == ["labs/x.yaml:7: steps[0].text: missing 'ko' (Korean text)"]


def test_a_text_in_one_language_only_is_refused():
    source = lab_source(GOOD_STEP.replace("{en: Make a ConfigMap., ko: 컨피그맵을 만드세요.}", "Make a ConfigMap."))
    assert problems(source) == ['labs/x.yaml:7: steps[0].text: a text needs both languages: {en: "...", ko: "..."}']


def test_unknown_keys_bad_values_and_actions_are_all_reported_at_once():
    steps = """
  - id: make
    txet: {en: a, ko: 가}
    text: {en: a, ko: 가}
    checks:
      - field: {kind: Pod, name: web, path: status..phase, equals: Running}
      - count: {selector: "app in (", equals: 1}
      - steps: {pod: web, done: [9]}
    solve:
      - clock: paws
      - kubectl cp a b
      - stop: schedular
"""
    found = problems(lab_source(steps, head="level: expert\n"))
    text = "\n".join(found)
    assert "labs/x.yaml:8: steps[0]: unknown key 'txet' (did you mean 'text'?)" in text
    assert "labs/x.yaml:11: steps[0].checks[0].field.path: cannot read the path at '..phase'" in text
    assert "labs/x.yaml:12: steps[0].checks[1].count.selector: unable to parse requirement" in text
    assert "labs/x.yaml:13: steps[0].checks[2].steps.done: must be a whole number between 1 and 8, not 9" in text
    assert "labs/x.yaml:15: steps[0].solve[0].clock: 'paws' is not a clock action" in text and "(did you mean 'pause'?)" in text
    assert "labs/x.yaml:16: steps[0].solve[1]: the page's terminal would refuse it: \"kubectl cp\" is not available" in text
    assert "labs/x.yaml:17: steps[0].solve[2].stop: unknown component 'schedular' (did you mean 'scheduler'?)" in text
    assert "labs/x.yaml:5: the key 'level' is given twice (the second would silently win)" in text
    assert "labs/x.yaml:5: level: 'expert' is not one of beginner, intermediate, advanced" in text


def test_a_check_that_nothing_solves_and_a_solve_that_checks_nothing_are_refused():
    no_solve = """
  - id: make
    text: {en: a, ko: 가}
    checks:
      - objectExists: {kind: ConfigMap, name: settings}
"""
    assert problems(lab_source(no_solve))[0].startswith("labs/x.yaml:8: steps[0]: a step with checks needs a solve")
    no_checks = """
  - id: make
    text: {en: a, ko: 가}
    solve: ["kubectl get pods"]
"""
    assert problems(lab_source(no_checks))[0].startswith("labs/x.yaml:8: steps[0]: a solve without checks proves nothing")


def test_traffic_explain_and_here_documents_are_read_and_their_mistakes_named():
    steps = """
  - id: make
    text: {en: a, ko: 가}
    setup:
      - explain: off
      - explain: maybe
    checks:
      - traffic: {service: web, atLeast: 10, pods: 3}
      - traffic: {service: web, ingress: shop}
    solve:
      - traffic: {service: web, count: 20, via: nodePort, port: 80}
      - traffic: {ingress: shop, host: shop.example, via: nodePort}
      - traffic: {service: web, count: 1000}
      - |-
        kubectl apply -f - <<EOF
        kind: ConfigMap
        EOF
      - |-
        kubectl apply -f - <<EOF
        kind: ConfigMap
"""
    found = problems(lab_source(steps))
    text = "\n".join(found)
    assert "labs/x.yaml:10: steps[0].setup[1].explain: write explain: off" in text
    assert "labs/x.yaml:13: steps[0].checks[1].traffic: name one Service (service: web) or one Ingress (ingress: web)" in text
    assert "labs/x.yaml:16: steps[0].solve[1].traffic.via: via is not a setting of a request to an Ingress" in text
    assert "labs/x.yaml:17: steps[0].solve[2].traffic.count: must be a whole number between 1 and 100, not 1000" in text
    assert "labs/x.yaml:22: steps[0].solve[4]: the page's terminal would refuse it: the here-document is not closed" in text
    assert len(found) == 5, found
    good = parse(lab_source(GOOD_STEP.replace("    solve:", "    setup:\n      - explain: off\n      - traffic: {service: web, count: 20, via: nodePort}\n    solve:")), "labs/x.yaml", expected_id="x")
    assert [(a.type, a.arg) for a in good.steps[0].setup] == [("explain", False), ("traffic", {"kind": "Service", "name": "web", "namespace": "default", "count": 20, "via": "nodePort", "node": None, "port": None, "host": None, "path": None})]


def test_wait_is_for_a_solve_only_and_a_following_command_is_no_action():
    steps = GOOD_STEP.replace("    checks:", "    setup:\n      - wait: 2s\n      - kubectl get pods -w\n    checks:")
    found = problems(lab_source(steps))
    assert found[0].startswith("labs/x.yaml:9: steps[0].setup[0].wait: wait is only for a solve")
    assert found[1] == "labs/x.yaml:10: steps[0].setup[1]: a command that follows (-w, --watch, -f) never ends: it cannot be an action"


def test_a_question_must_offer_its_answer_among_its_choices():
    steps = """
  - id: guess
    predict:
      question: {en: "Who?", ko: "누구?"}
      choices: [kubelet, scheduler]
      answer: schedular
      explanation: {en: The scheduler., ko: 스케줄러입니다.}
"""
    assert problems(lab_source(steps)) == ["labs/x.yaml:10: steps[0].predict.answer: 'schedular' is not one of the choices (kubelet, scheduler) (did you mean 'scheduler'?)"]


def test_the_id_is_the_file_name_and_step_ids_are_unique():
    source = lab_source(GOOD_STEP + GOOD_STEP).replace("id: x\n", "id: y\n", 1)
    found = problems(source)
    assert found[0] == "labs/x.yaml:1: id: 'y' is not the file's name: name the file y.yaml (or the id x)"
    assert any("steps[1].id: 'make' is already the id of steps[0]" in p for p in found)


def test_yaml_that_does_not_parse_names_its_line():
    [found] = problems(lab_source() + "\n  - id: [unclosed\n")
    assert found == "labs/x.yaml:14: not valid YAML: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence that starts on line 13)"


def test_a_lab_file_that_is_not_valid_is_left_out_of_the_catalogue(tmp_path, settings):
    settings.PODFLOW_LABS_DIR = str(tmp_path)
    (tmp_path / "x.yaml").write_text(lab_source())
    (tmp_path / "broken.yaml").write_text("id: broken\n")
    assert [lab.id for lab in labs.catalogue()] == ["x"]
    assert labs.get("x").steps[0].id == "make"
    assert labs.get("broken") is None and labs.get("../x") is None


@pytest.mark.parametrize(
    "path,value",
    [
        ("status.phase", "Running"),
        ("spec.containers[0].image", "nginx"),
        ("spec.containers[-1].name", "app"),
        ('metadata.annotations["podflow.dev/readiness"]', "fail"),
        ("status.conditions[type=Ready].status", "True"),
        ("status.conditions[type=Nope].status", MISSING),
        ("spec.nodeName", MISSING),
    ],
)
def test_a_field_path_reads_keys_indexes_quoted_keys_and_list_items(path, value):
    doc = {
        "metadata": {"annotations": {"podflow.dev/readiness": "fail"}},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
        "status": {"phase": "Running", "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}]},
    }
    assert resolve_path(doc, parse_path(path)) == value


@pytest.mark.parametrize("text", ["", ".status", "status..phase", "status[", "status phase"])
def test_a_path_that_does_not_parse_is_refused(text):
    with pytest.raises(ValueError):
        parse_path(text)


@pytest.mark.parametrize("text,seconds", [("5s", 5.0), ("1.5s", 1.5), ("500ms", 0.5), ("2m", 120.0), (3, 3.0), ("soon", None), (True, None)])
def test_durations(text, seconds):
    assert schema.parse_duration(text) == seconds
