"""The labs API under /k8s/<cluster>/podflow/v1/labs: a learner's way through a lab, its
refusals as Kubernetes Statuses, and the doors it shares with the rest of the API."""
from __future__ import annotations

import json

import pytest
from django.test import Client

import cluster.labs as labs
from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.demo import ensure_cluster
from cluster.models import LabProgress

LAB = """\
id: practice
number: 1
title: {en: Practice, ko: 연습}
level: beginner
minutes: 5
setup:
  - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: start}}
cleanup:
  - deleteAll: default
steps:
  - id: make
    text: {en: Make the ConfigMap settings., ko: settings 컨피그맵을 만드세요.}
    suggest: ["kubectl create configmap settings --from-literal=mode=a"]
    checks:
      - objectExists: {kind: ConfigMap, name: settings}
      - field: {kind: ConfigMap, name: settings, path: data.mode, equals: a}
    hints:
      - {en: First hint, ko: 첫째 힌트}
      - {en: Second hint, ko: 둘째 힌트}
    solution: {en: Create it., ko: 만드세요.}
    solve:
      - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {mode: a}}
  - id: guess
    predict:
      question: {en: "Which one?", ko: "어느 것?"}
      choices: [a, {id: b, en: The b, ko: 비}]
      answer: b
      explanation: {en: It is b., ko: 비입니다.}
      reveal:
        - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: revealed}}
    checks:
      - objectExists: {kind: ConfigMap, name: revealed}
  - id: quiz
    quiz:
      question: {en: "Sure?", ko: "확실한가요?"}
      choices: [right, wrong]
      answer: right
      explanation: {en: Right., ko: 맞습니다.}
"""
BASE = "/k8s/test/podflow/v1/labs"


@pytest.fixture(autouse=True)
def lab_dir(tmp_path, settings):
    settings.PODFLOW_LABS_DIR = str(tmp_path)
    (tmp_path / "practice.yaml").write_text(LAB)
    return tmp_path


def post(api: Client, url: str, body: dict | None = None):
    return api.post(url, data=json.dumps(body) if body is not None else b"", content_type="application/json")


def test_the_catalogue_lists_each_lab_with_this_clusters_progress(cluster, api):
    [item] = api.get(BASE).json()["items"]
    assert item == {
        "id": "practice", "number": 1, "title": {"en": "Practice", "ko": "연습"}, "summary": None,
        "level": "beginner", "minutes": 5, "steps": 3, "progress": None,
    }
    post(api, BASE + "/practice/start")
    [item] = api.get(BASE).json()["items"]
    assert item["progress"]["stepId"] == "make" and item["progress"]["checksTotal"] == 2


def test_a_lab_before_it_is_started_shows_its_steps_but_no_hint_solution_or_answer(cluster, api):
    body = api.get(BASE + "/practice").json()
    assert body["kind"] == "Lab" and body["current"] is None and body["progress"] is None
    make, guess, _ = body["steps"]
    assert make["hints"] == [] and make["hintsLeft"] == 2 and make["hasSolution"] and make["solution"] is None
    assert make["checks"][0] == {"en": "ConfigMap settings exists", "ko": "settings 컨피그맵이 있습니다"}
    assert make["suggest"] == ["kubectl create configmap settings --from-literal=mode=a"]
    assert guess["question"]["choices"] == [{"id": "a", "en": "a", "ko": "a"}, {"id": "b", "en": "The b", "ko": "비"}]
    assert guess["question"]["correctAnswer"] is None and guess["question"]["explanation"] is None
    assert "It is b" not in json.dumps(body)


def test_start_runs_the_setup_and_the_checks_say_what_is_missing(cluster, api):
    assert post(api, BASE + "/practice/checks").status_code == 409
    answer = post(api, BASE + "/practice/start")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert store.find(cluster, kinds.CONFIGMAP, "default", "start") is not None
    assert body["did"][0]["en"].startswith("create (or replace) ConfigMap start")
    current = body["current"]
    assert current["step"] == {"index": 0, "id": "make"} and current["passed"] == 0 and not current["canAdvance"]
    assert current["checks"][0]["why"] == {"en": "there is no ConfigMap settings yet", "ko": "아직 settings 컨피그맵이 없습니다"}
    assert current["blocked"]["en"] == "2 of 2 checks do not pass yet: there is no ConfigMap settings yet"


def test_next_is_refused_while_a_check_fails_and_allowed_once_they_pass(cluster, api):
    post(api, BASE + "/practice/start")
    refused = post(api, BASE + "/practice/next")
    assert refused.status_code == 409
    status = refused.json()
    assert status["kind"] == "Status" and status["reason"] == "Conflict"
    assert [c["field"] for c in status["details"]["causes"]] == ["checks[0]", "checks[1]"]
    # The learner makes it, as kubectl would.
    made = api.post("/k8s/test/api/v1/namespaces/default/configmaps", {"metadata": {"name": "settings"}, "data": {"mode": "a"}}, content_type="application/json")
    assert made.status_code == 201
    detail = api.get(BASE + "/practice").json()
    assert detail["current"]["passed"] == detail["progress"]["checksPassed"] == 2
    checked = api.get(BASE + "/practice/checks").json()
    assert checked["kind"] == "LabChecks" and checked["passed"] == 2 and checked["canAdvance"]
    assert LabProgress.objects.get(cluster=cluster, lab="practice").checks_passed == 2
    moved = post(api, BASE + "/practice/next")
    assert moved.status_code == 200 and moved.json()["current"]["step"]["id"] == "guess"


def test_a_prediction_is_recorded_once_its_reveal_runs_and_then_next_is_allowed(cluster, api):
    post(api, BASE + "/practice/start")
    LabProgress.objects.filter(cluster=cluster).update(step_index=1, step_id="guess")
    assert post(api, BASE + "/practice/next").json()["message"] == "answer the question first"
    assert post(api, BASE + "/practice/answer", {"step": "make", "answer": "a"}).status_code == 409
    bad = post(api, BASE + "/practice/answer", {"step": "guess", "answer": "c"})
    assert bad.status_code == 422 and bad.json()["message"] == '"c" is not one of the choices: a, b'
    missing = post(api, BASE + "/practice/answer", {"step": "guess"})
    assert missing.status_code == 422 and missing.json()["details"]["causes"][0]["field"] == "answer"
    answer = post(api, BASE + "/practice/answer", {"step": "guess", "answer": "a"}).json()
    assert answer["correct"] is False and answer["correctAnswer"] == "b" and answer["explanation"] == {"en": "It is b.", "ko": "비입니다."}
    assert answer["revealed"][0]["output"] == "configmaps/revealed created"
    assert store.find(cluster, kinds.CONFIGMAP, "default", "revealed") is not None
    again = post(api, BASE + "/practice/answer", {"step": "guess", "answer": "b"})
    assert again.status_code == 409 and "a prediction is made once" in again.json()["message"]
    recorded = LabProgress.objects.get(cluster=cluster).answers["guess"]
    assert recorded["answer"] == "a" and recorded["correct"] is False and recorded["tries"] == 1
    assert post(api, BASE + "/practice/next").status_code == 200


def test_a_quiz_may_be_tried_again_and_gates_next_until_right(cluster, api):
    post(api, BASE + "/practice/start")
    LabProgress.objects.filter(cluster=cluster).update(step_index=2, step_id="quiz")
    wrong = post(api, BASE + "/practice/answer", {"step": "quiz", "answer": "wrong"}).json()
    assert wrong["correct"] is False and wrong["correctAnswer"] is None and wrong["explanation"] is None
    assert post(api, BASE + "/practice/next").json()["message"] == "answer the quiz correctly first"
    right = post(api, BASE + "/practice/answer", {"step": "quiz", "answer": "right"}).json()
    assert right["correct"] is True and right["explanation"] == {"en": "Right.", "ko": "맞습니다."}
    assert LabProgress.objects.get(cluster=cluster).answers["quiz"]["tries"] == 2
    done = post(api, BASE + "/practice/next").json()
    assert done["progress"]["completed"] is True and done["current"]["blocked"]["en"] == "the lab is complete"


def test_hints_come_one_at_a_time_and_the_solution_is_recorded(cluster, api):
    post(api, BASE + "/practice/start")
    first = post(api, BASE + "/practice/hint").json()
    assert first == {"kind": "LabHints", "apiVersion": "podflow/v1", "step": "make", "hints": [{"en": "First hint", "ko": "첫째 힌트"}], "left": 1}
    assert post(api, BASE + "/practice/hint", {"step": "make"}).json()["left"] == 0
    assert post(api, BASE + "/practice/hint").json()["left"] == 0  # no more: the same two
    assert post(api, BASE + "/practice/hint", {"step": "guess"}).status_code == 409  # not open yet
    solution = post(api, BASE + "/practice/solution").json()
    assert solution["text"] == {"en": "Create it.", "ko": "만드세요."}
    assert "kind: ConfigMap" in solution["actions"][0]["manifest"]
    progress = api.get(BASE + "/practice").json()
    assert progress["progress"]["solutionShown"] == ["make"] and progress["progress"]["hintsShown"] == {"make": 2}
    assert progress["steps"][0]["hints"][1]["en"] == "Second hint" and progress["steps"][0]["solution"]["text"]["en"] == "Create it."


def test_the_pacing_hook_can_hold_a_learner_at_the_instructors_step(cluster, api):
    asked = []

    def pacer(found, lab_id, step_index):
        asked.append((found.name, lab_id, step_index))
        return False

    labs.register_pacer(pacer)
    try:
        post(api, BASE + "/practice/start")
        store.create(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "a"}})
        refused = post(api, BASE + "/practice/next")
        assert refused.status_code == 409 and "wait for your instructor" in refused.json()["message"]
        assert asked == [("test", "practice", 1)]
    finally:
        labs.unregister_pacer(pacer)
    assert post(api, BASE + "/practice/next").status_code == 200


def test_the_pacing_hook_may_be_named_in_a_setting(cluster, api, settings):
    settings.PODFLOW_LAB_MAY_ADVANCE = "tests.unit.test_labs_api.never"
    post(api, BASE + "/practice/start")
    store.create(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "a"}})
    assert post(api, BASE + "/practice/next").status_code == 409


def never(cluster, lab, step_index) -> bool:
    return False


def test_cleanup_runs_the_labs_cleanup(cluster, api):
    post(api, BASE + "/practice/start")
    body = post(api, BASE + "/practice/cleanup").json()
    assert body["kind"] == "LabCleanup" and body["did"][0]["output"].endswith("deleted in namespace default")
    assert store.find(cluster, kinds.CONFIGMAP, "default", "start") is None


def test_bad_input_is_a_status_never_a_500(cluster, api):
    assert api.get(BASE + "/nope").status_code == 404
    assert api.get(BASE + "/..%2Fpractice").status_code in (404, 405)
    assert api.get(BASE + "/Practice").status_code == 404
    assert post(api, BASE + "/practice/fly").status_code == 404
    assert api.get(BASE + "/practice/start").status_code == 405
    assert api.delete(BASE).status_code == 405
    post(api, BASE + "/practice/start")
    assert post(api, BASE + "/practice/hint", {"stepp": "make"}).status_code == 400
    assert api.post(BASE + "/practice/answer", data=b"[1]", content_type="application/json").status_code == 400
    assert api.post(BASE + "/practice/answer", data=b"{", content_type="application/json").status_code == 400
    assert post(api, BASE + "/practice/answer", {"step": 3, "answer": "a"}).status_code == 422
    assert post(api, BASE + "/practice/hint", {"step": "nope"}).status_code == 404


def test_another_clusters_token_or_none_cannot_open_a_lab(cluster, api):
    other, _ = ensure_cluster("other")
    for method, url in (("get", BASE), ("get", BASE + "/practice"), ("post", BASE + "/practice/start"), ("post", BASE + "/practice/next")):
        assert getattr(Client(HTTP_AUTHORIZATION=f"Bearer {other.token}"), method)(url).status_code == 403
        assert getattr(Client(), method)(url).status_code == 401
    assert not LabProgress.objects.exists()
