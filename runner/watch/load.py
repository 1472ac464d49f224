"""Load-based instances: start some of a layer's stopped ones when its instances are busy, stop some when idle.

As OpsWorks' load-based scaling: the metrics (CPU busy %, memory used %, 1-minute
load average) are averaged over the layer's online instances that answered. Up:
any threshold of ``up`` exceeded (above it) for ``thresholds_wait_time`` starts
``up.instances`` of the layer's stopped ``scaling: load`` instances. Down: every
threshold of ``down`` that is on below it for its wait time stops ``down.instances``
of its running ones ("every", not "any": a layer idle on CPU but short of memory
keeps its instances). After acting, metrics are ignored for ``ignore_metrics_time``.
Instances beyond those declared are never created, and 24/7 or time-based ones never touched.
"""

from __future__ import annotations

from typing import Any

from runner.model.stack import SCALING_LOAD, Instance, Layer, LoadBased, ScalingThresholds
from runner.watch.scaling import span, startable, stoppable
from runner.watch.types import START, STOP, Action, WatchView

#: a threshold's metric -> the Sample field it reads
METRICS: dict[str, str] = {"cpu": "cpu", "memory": "memory", "load": "load1"}
_UNITS = {"cpu": "%", "memory": "%", "load": ""}


class LoadPolicy:
    """Per layer with ``load_based`` (enabled) and ``scaling: load`` instances; state in ``view.memory["load"]``.

    Each layer's memory holds ``up_since``/``down_since`` (when its thresholds started to hold),
    ``ignore_until`` (the end of ``ignore_metrics_time``) and ``note`` (why nothing was done, if so).
    """

    name = "load"

    def decide(self, view: WatchView) -> list[Action]:
        memory: dict[str, Any] = view.memory.setdefault(self.name, {})
        actions: list[Action] = []
        for layer in view.stack.layers.values():
            settings = layer.load_based
            pool = [i for i in view.stack.instances_of(layer.name) if i.scaling == SCALING_LOAD]
            if settings is None or not settings.enable or not pool:
                memory.pop(layer.name, None)
                continue
            taken = {a.instance for a in actions}  # an instance of two load-based layers is acted on once
            pool = [i for i in pool if i.name not in taken]
            actions += self._layer(view, layer, settings, pool, memory.setdefault(layer.name, {}))
        for gone in set(memory) - set(view.stack.layers):
            del memory[gone]
        return actions

    def _layer(self, view: WatchView, layer: Layer, settings: LoadBased, pool: list[Instance],
               state: dict[str, Any]) -> list[Action]:
        now = view.now
        if now < state.get("ignore_until", 0.0):
            state.pop("up_since", None)
            state.pop("down_since", None)
            state["note"] = "metrics ignored after scaling (ignore_metrics_time)"
            return []
        state.pop("ignore_until", None)
        averages = layer_averages(view, layer.name)
        over = exceeded(settings.up, averages)
        under = [] if over else below(settings.down, averages)
        if over:
            state.pop("down_since", None)
            return self._act(view, layer, settings.up, START, over, "up_since", state,
                             [i for i in pool if startable(view, i.name)])
        state.pop("up_since", None)
        if under:
            return self._act(view, layer, settings.down, STOP, under, "down_since", state,
                             [i for i in reversed(pool) if stoppable(view, i.name)])
        state.pop("down_since", None)
        state.pop("note", None)
        return []

    def _act(self, view: WatchView, layer: Layer, thresholds: ScalingThresholds, kind: str, reasons: list[str],
             since_key: str, state: dict[str, Any], candidates: list[Instance]) -> list[Action]:
        since = state.setdefault(since_key, view.now)
        held = view.now - since
        what = f"layer {layer.name} average {', '.join(reasons)}"
        if held < thresholds.thresholds_wait_time:
            state["note"] = f"{what} for {span(held)} of {span(thresholds.thresholds_wait_time)}"
            return []
        if not candidates:
            left = "stopped" if kind == START else "online"
            state["note"] = f"{what}, but no {left} load-based instance is left in layer {layer.name}"
            return []
        state.pop(since_key)
        state.pop("note", None)
        state["ignore_until"] = view.now + thresholds.ignore_metrics_time
        why = f"load: {what} for {span(thresholds.thresholds_wait_time)}"
        return [Action(kind, i.name, why, self.name) for i in candidates[: thresholds.instances]]


def layer_averages(view: WatchView, layer: str) -> dict[str, float | None]:
    """Each metric averaged over the layer's instances that answered this pass with a value (None: none did)."""
    samples = [view.samples[i.name] for i in view.stack.instances_of(layer)
               if i.name in view.samples and view.samples[i.name].alive]
    averages: dict[str, float | None] = {}
    for metric, field_name in METRICS.items():
        values = [getattr(s, field_name) for s in samples if getattr(s, field_name) is not None]
        averages[metric] = sum(values) / len(values) if values else None
    return averages


def exceeded(thresholds: ScalingThresholds, averages: dict[str, float | None]) -> list[str]:
    """The thresholds (that are on) an average is above, as ``cpu 91% > 80%``; any one counts."""
    return [_says(metric, value, ">", limit) for metric, limit in thresholds.thresholds.items()
            if (value := averages.get(metric)) is not None and value > limit]


def below(thresholds: ScalingThresholds, averages: dict[str, float | None]) -> list[str]:
    """Every threshold that is on, as ``cpu 12% < 30%``, when every one is undercut; else []."""
    found = []
    for metric, limit in thresholds.thresholds.items():
        value = averages.get(metric)
        if value is None or value >= limit:
            return []
        found.append(_says(metric, value, "<", limit))
    return found


def _says(metric: str, value: float, sign: str, limit: float) -> str:
    unit = _UNITS[metric]
    return f"{metric} {value:.1f}{unit} {sign} {limit:g}{unit}"
