"""The rerun after changing one investigation's status on the case page.

Found in the page's AppTest tree, in this order:

1. an editable data editor with a ``Status`` column (the workup table) and a button
   whose key names ``save`` next to it: the benchmark edits one row's status (the
   widget state the browser would send), reruns, clicks save and times the rerun that
   saves, the one the user waits for. The edit rerun is reported too;
2. a status selectbox, radio, segmented control or select slider whose key names an
   investigation (``investigation``, ``workup`` or ``inv_`` and ``status``): set it,
   submit its form if it sits in one (or click a save button), time the saving rerun;
3. otherwise, fallback: call ``workup.update_investigation`` and rerun the page, timing
   both; the report says so.

Widgets inside an ``st.fragment`` rerun only their fragment in the browser. AppTest
always reruns the whole script, so for those the benchmark asks for a fragment-scoped
rerun itself, through two private AppTest hooks (see ``_fragment_rerun``); after each
timed fragment rerun it reruns the whole page untimed, because AppTest's element tree
then holds the fragment alone.

The trivial page is rerun once before each timed change, and the ratio is taken to
those reruns: measured in the same minutes, so a drift in the machine's speed between
the page table and this measurement does not move the ratio.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates
from streamlit.testing.v1 import AppTest

from bench.page_timing import TRIVIAL, PageSpec, open_app, problem_of, timed_run
from bench.stats import median, percentile
from cupboard.errors import CupboardError
from cupboard.knowledge.investigations import INVESTIGATION_STATUS_LABELS
from cupboard.permissions import Actor
from cupboard.services import case_record, workup
from cupboard.services.context import ServiceContext

WIDGET_KINDS = ("selectbox", "radio", "button_group", "select_slider")
INVESTIGATION_KEY_WORDS = ("investigation", "workup", "inv_")
# Two statuses a user can set with one click (neither needs a date typed in).
TOGGLE = ("requested", "to_request")
READ_ONLY = 0  # ArrowProto.EditingMode.READ_ONLY
TRIGGERS = ("trigger_value", "string_trigger_value")


@dataclass
class StatusChangeTiming:
    mode: str  # how the change was made (see the module doc)
    detail: str
    samples_ms: list[float] = field(default_factory=list)
    edit_ms: list[float] = field(default_factory=list)  # data editor: the edit's rerun
    service_ms: list[float] = field(default_factory=list)  # fallback: the service call
    # The trivial page, rerun once before each timed change: the baseline of the ratio
    # measured in the same minutes as the changes (a machine's speed drifts).
    trivial_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return median(self.samples_ms)

    @property
    def p90_ms(self) -> float:
        return percentile(self.samples_ms, 0.9)


def _blank(cell: object) -> bool:
    return cell is None or cell == "" or bool(pd.isna(cell))


def _target_for(current: object) -> str:
    return TOGGLE[1] if current == TOGGLE[0] else TOGGLE[0]


def _statuses(ctx: ServiceContext, case_id: int) -> dict[int, str]:
    return {row.investigation_id: row.status for row in case_record.workup(ctx, case_id)}


def _changed_to(before: dict[int, str], after: dict[int, str], target: str) -> bool:
    return any(status == target and before.get(i) != target for i, status in after.items())


# --- AppTest plumbing -------------------------------------------------------------------


@contextlib.contextmanager
def _captured_messages(store: list[Any]) -> Iterator[None]:
    """Keep the ForwardMsgs of the next run: each delta says which fragment drew it."""
    from streamlit.testing.v1 import local_script_runner

    original = local_script_runner.parse_tree_from_messages

    def capture(messages: list[Any]) -> Any:
        store[:] = list(messages)
        return original(messages)

    local_script_runner.parse_tree_from_messages = capture  # type: ignore[assignment]
    try:
        yield
    finally:
        local_script_runner.parse_tree_from_messages = original  # type: ignore[assignment]


@contextlib.contextmanager
def _fragment_rerun(fragment_id: str) -> Iterator[None]:
    """Make the next AppTest run a widget-triggered rerun of one fragment only, as the
    browser requests when a widget inside ``st.fragment`` changes."""
    from streamlit.testing.v1 import local_script_runner

    original = local_script_runner.RerunData

    def scoped(**kwargs: Any) -> Any:
        return original(**kwargs, fragment_id_queue=[fragment_id])

    local_script_runner.RerunData = scoped  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        local_script_runner.RerunData = original  # type: ignore[misc]


def _fragments_by_element(messages: list[Any]) -> dict[str, str]:
    """Element id -> id of the fragment that drew it (widgets and data editors)."""
    fragments = {}
    for message in messages:
        if message.WhichOneof("type") != "delta" or not message.delta.fragment_id:
            continue
        if message.delta.WhichOneof("type") != "new_element":
            continue
        element = message.delta.new_element
        kind = element.WhichOneof("type")
        element_id = getattr(getattr(element, kind), "id", None) if kind else None
        if element_id:
            fragments[element_id] = message.delta.fragment_id
    return fragments


class _Driver:
    """Runs one AppTest like a browser tab: resends extra widget states (a data
    editor's edits, which AppTest cannot hold) and scopes reruns to fragments."""

    def __init__(self, app: AppTest, trivial: AppTest) -> None:
        self.app = app
        self.trivial = trivial  # the baseline page, rerun beside the changes
        self.fragments: dict[str, str] = {}

    def trivial_run(self) -> float:
        """Milliseconds of one rerun of the trivial page, in this same process."""
        return timed_run(self.trivial)

    def _states(self, extra: list[WidgetState], triggers: bool) -> WidgetStates:
        states = self.app._tree.get_widget_states()
        replaced = {state.id for state in extra}
        kept = [
            s
            for s in states.widgets
            if s.id not in replaced and (triggers or s.WhichOneof("value") not in TRIGGERS)
        ]
        fresh = WidgetStates()
        fresh.widgets.extend([*kept, *extra])
        return fresh

    def run(self, extra: list[WidgetState] | None = None, fragment_of: str = "") -> float:
        """One run as the browser would ask for it; its milliseconds. ``fragment_of``
        names the element whose change triggers it (a fragment-scoped rerun when that
        element sits in a fragment)."""
        extra = extra or []
        fragment_id = self.fragments.get(fragment_of, "")
        messages: list[Any] = []
        if not fragment_id:
            states = self._states(extra, triggers=True)
            with _captured_messages(messages):
                start = time.perf_counter()
                self.app._run(states)
                elapsed = (time.perf_counter() - start) * 1000
            self.fragments = _fragments_by_element(messages)
            return elapsed
        full_tree = self.app._tree
        states = self._states(extra, triggers=True)
        with _fragment_rerun(fragment_id):
            start = time.perf_counter()
            self.app._run(states)
            elapsed = (time.perf_counter() - start) * 1000
        problem = problem_of(self.app)
        if problem is not None:
            return elapsed  # leave the failed tree for the caller to read
        # The tree now holds the fragment alone; redraw all, untimed, as the browser
        # still shows every element. Buttons are not pressed again.
        self.app._tree = full_tree
        with _captured_messages(messages):
            self.app._run(self._states(extra, triggers=False))
        self.fragments = _fragments_by_element(messages)
        return elapsed


# --- the three ways -----------------------------------------------------------------------


def _status_editor(app: AppTest) -> Any:
    for frame in app.get("dataframe"):
        proto = frame.proto
        if not proto.id or proto.editing_mode == READ_ONLY:
            continue
        with contextlib.suppress(Exception):
            if "Status" in list(frame.value.columns):
                return frame
    return None


def _editor_key(frame: Any) -> str:
    return str(frame.proto.id).split("-", 2)[-1]


def _save_button(app: AppTest, near: str, driver: _Driver) -> Any:
    """The save button drawn by the same fragment as ``near``, else any save button
    whose key names the workup or an investigation."""
    fragment = driver.fragments.get(near, "")
    candidates = [b for b in app.button if "save" in str(b.key or "").lower()]
    for button in candidates:
        if fragment and driver.fragments.get(button.id) == fragment:
            return button
    for button in candidates:
        if any(word in str(button.key).lower() for word in INVESTIGATION_KEY_WORDS):
            return button
    return None


def _change_in_editor(
    driver: _Driver, ctx: ServiceContext, case_id: int
) -> tuple[float, float, str, str | None]:
    """Edit one row's status in the data editor, then save. Returns (save ms, edit ms,
    how, problem); problem is None when the database changed."""
    app = driver.app
    frame = _status_editor(app)
    if frame is None:
        return float("nan"), float("nan"), "data editor", "the data editor is gone"
    # The editor shows status labels ("To request"); a toggle is only a legal change on a
    # row with no appointment date (a booking on an unrequested investigation is refused).
    code_of = {INVESTIGATION_STATUS_LABELS[code]: code for code in TOGGLE}
    statuses = [code_of.get(str(s), s) for s in frame.value["Status"]]
    booked = list(frame.value["Booked for"])
    # Toggle an outstanding row; a case with none outstanding has "not indicated" rows.
    candidates = (*TOGGLE, "not_indicated")
    row = next(
        (i for i, s in enumerate(statuses) if s in candidates and _blank(booked[i])),
        0,
    )
    target = _target_for(statuses[row])
    edit = WidgetState(id=frame.proto.id)
    cell = {"Status": INVESTIGATION_STATUS_LABELS[target]}
    edit.string_value = json.dumps(
        {"edited_rows": {str(row): cell}, "added_rows": [], "deleted_rows": []}
    )
    how = f"data editor key={_editor_key(frame)!r}, row {row} Status → {target!r}"
    before = _statuses(ctx, case_id)
    edit_ms = driver.run([edit], fragment_of=frame.proto.id)
    if (problem := problem_of(app)) is not None:
        return float("nan"), edit_ms, how, f"edit rerun raised: {problem}"
    button = _save_button(app, frame.proto.id, driver)
    if button is None:
        return float("nan"), edit_ms, how, "no save button next to the data editor"
    how += f", then button key={button.key!r}"
    button.click()
    save_ms = driver.run([edit], fragment_of=button.id)
    if driver.fragments.get(button.id) or driver.fragments.get(frame.proto.id):
        how += " (fragment reruns)"
    if (problem := problem_of(app)) is not None:
        return save_ms, edit_ms, how, f"save rerun raised: {problem}"
    if not _changed_to(before, _statuses(ctx, case_id), target):
        return save_ms, edit_ms, how, "the save changed no investigation's status"
    return save_ms, edit_ms, how, None


def _status_widget(app: AppTest) -> tuple[str, str] | None:
    """(kind, key) of a keyed widget that sets an investigation's status."""
    for kind in WIDGET_KINDS:
        for widget in app.get(kind):
            key = str(getattr(widget, "key", None) or "").lower()
            if "status" in key and any(word in key for word in INVESTIGATION_KEY_WORDS):
                return kind, str(widget.key)
    return None


def _widget(app: AppTest, kind: str, key: str) -> Any:
    for widget in app.get(kind):
        if getattr(widget, "key", None) == key:
            return widget
    raise LookupError(f"the widget {key!r} is gone after a rerun")


def _option_value(widget: Any, code: str) -> Any:
    """The value to give the widget for a status code: the code itself when its
    options are codes shown through a format function, or the label."""
    options = [str(o) for o in widget.options]
    with contextlib.suppress(Exception):
        if str(widget.format_func(code)) in options:
            return code
    for candidate in (INVESTIGATION_STATUS_LABELS[code], code):
        if candidate in options:
            return candidate
    raise LookupError(f"no option for status {code!r} among {options}")


def _change_in_widget(
    driver: _Driver, ctx: ServiceContext, case_id: int, kind: str, key: str
) -> tuple[float, str, str | None]:
    app = driver.app
    widget = _widget(app, kind, key)
    current = widget.value
    code = next((c for c, label in INVESTIGATION_STATUS_LABELS.items() if label == current), None)
    target = _target_for(code or current)
    widget.set_value(_option_value(widget, target))
    how = f"{kind} key={key!r} → {target!r}"
    trigger = widget.id
    form_id = str(getattr(widget, "form_id", "") or "")
    if form_id:
        submit = next((b for b in app.button if getattr(b, "form_id", "") == form_id), None)
        if submit is None:
            return float("nan"), how, f"widget in form {form_id!r} without a submit button"
        submit.click()
        how += " + form submit"
    before = _statuses(ctx, case_id)
    elapsed = driver.run(fragment_of=trigger)
    if (problem := problem_of(app)) is not None:
        return elapsed, how, problem
    if _changed_to(before, _statuses(ctx, case_id), target):
        return elapsed, how + _scope(driver, trigger), None
    button = _save_button(app, trigger, driver)
    if button is None:
        return elapsed, how, "changing the widget saved nothing and no save button was found"
    button.click()
    how += f" + button key={button.key!r}"
    elapsed = driver.run(fragment_of=button.id)
    if (problem := problem_of(app)) is not None:
        return elapsed, how, problem
    if _changed_to(before, _statuses(ctx, case_id), target):
        return elapsed, how + _scope(driver, button.id), None
    return elapsed, how, "neither the widget nor the save button changed the status"


def _scope(driver: _Driver, element_id: str) -> str:
    return " (fragment rerun)" if driver.fragments.get(element_id) else ""


def _fallback(
    driver: _Driver, ctx: ServiceContext, case_id: int, repeats: int, reason: str
) -> StatusChangeTiming:
    timing = StatusChangeTiming(
        "service + rerun (fallback)",
        f"{reason}; timed workup.update_investigation(...) followed by a full rerun",
    )
    rows = case_record.workup(ctx, case_id)
    chosen = next((r for r in rows if r.status in TOGGLE), rows[0] if rows else None)
    if chosen is None:
        timing.failures.append(f"case {case_id} has no investigations")
        return timing
    timing.detail += f" (investigation {chosen.investigation_id}, {chosen.code})"
    for repeat in range(-1, repeats):  # change -1 warms up and is not counted
        row = next(
            r
            for r in case_record.workup(ctx, case_id)
            if r.investigation_id == chosen.investigation_id
        )
        start = time.perf_counter()
        try:
            workup.update_investigation(
                ctx, row.investigation_id, row.version, {"status": _target_for(row.status)}
            )
        except CupboardError as error:
            timing.failures.append(f"change {repeat + 1}: {error}")
            continue
        service_done = time.perf_counter()
        driver.run()
        done = time.perf_counter()
        if repeat >= 0:
            timing.service_ms.append((service_done - start) * 1000)
            timing.samples_ms.append((done - start) * 1000)
            timing.trivial_ms.append(driver.trivial_run())
        if (problem := problem_of(driver.app)) is not None:
            timing.failures.append(f"rerun {repeat + 1}: {problem}")
    return timing


def measure_status_change(
    url: str, actor: Actor, case_id: int, repeats: int, timeout: float = 120
) -> StatusChangeTiming:
    """Median rerun time of a status change on the case page (see the module doc)."""
    ctx = ServiceContext(url, actor)
    app = open_app(PageSpec("case", "pages/case.py", {"case_id": str(case_id)}), actor, timeout)
    app.run()
    trivial = open_app(PageSpec(TRIVIAL, None), actor, timeout)
    trivial.run()
    driver = _Driver(app, trivial)
    driver.run()  # warm, and learn which fragment drew each element
    if (problem := problem_of(app)) is not None:
        return StatusChangeTiming("failed", f"the case page raised: {problem}")
    if _status_editor(app) is not None:
        return _repeat_editor(driver, ctx, case_id, repeats)
    found = _status_widget(app)
    if found is None:
        return _fallback(driver, ctx, case_id, repeats, "no status widget on the case page")
    kind, key = found
    try:
        _, how, problem = _change_in_widget(driver, ctx, case_id, kind, key)
    except (LookupError, ValueError, TypeError) as error:
        how, problem = f"{kind} key={key!r}", str(error)
    if problem is not None:
        return _fallback(driver, ctx, case_id, repeats, f"{how}: {problem}")
    timing = StatusChangeTiming("widget", how)
    for repeat in range(repeats):
        timing.trivial_ms.append(driver.trivial_run())
        try:
            elapsed, how, problem = _change_in_widget(driver, ctx, case_id, kind, key)
        except (LookupError, ValueError, TypeError) as error:
            elapsed, problem = float("nan"), str(error)
        if problem is None:
            timing.samples_ms.append(elapsed)
            timing.detail = how
        else:
            timing.failures.append(f"change {repeat + 1}: {problem}")
            driver.run()
    return timing


def _repeat_editor(
    driver: _Driver, ctx: ServiceContext, case_id: int, repeats: int
) -> StatusChangeTiming:
    _, _, how, problem = _change_in_editor(driver, ctx, case_id)  # warm-up change
    if problem is not None:
        driver.run()
        return _fallback(driver, ctx, case_id, repeats, f"{how}: {problem}")
    timing = StatusChangeTiming("data editor + save button", how)
    for repeat in range(repeats):
        timing.trivial_ms.append(driver.trivial_run())
        save_ms, edit_ms, how, problem = _change_in_editor(driver, ctx, case_id)
        if problem is None:
            timing.samples_ms.append(save_ms)
            timing.edit_ms.append(edit_ms)
            timing.detail = how
        else:
            timing.failures.append(f"change {repeat + 1}: {problem}")
            driver.run()
    return timing
