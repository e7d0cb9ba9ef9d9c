"""Reward and accuracy per step (textual-plotext), the latest KL and loss, and how fast the run
turns compute into signal: verified answers per hour, the share of drawn groups with a learning
signal (a verified and a failed answer), and the rollouts' tokens/s."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult, RenderResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from engine.runs.events import Phase, Step
from ladder_tui.state import Throughput

PHASES = {"tree": "building the variant tree", "load": "loading the model", "convert": "converting the model",
          "generate": "generating", "verify": "verifying", "update": "updating the adapter", "eval": "evaluating"}


NO_RATES = Throughput(verified_per_hour=None, signal_share=None, tokens_per_s=None)


def describe_phase(phase: Phase, step: int) -> str:
    """"step 3 · generating group 2 of 4 (x*exp(x))" from a phase event."""
    text = PHASES.get(phase.phase, phase.phase)
    if phase.total:
        text += f" {phase.done or 0} of {phase.total}"
    elif phase.done is not None:
        text += f": {phase.done}"
    if phase.detail:
        text += f" ({phase.detail})"
    return f"step {step} · {text}" if phase.phase in ("generate", "verify", "update") else text


def _num(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "–"


def throughput_line(rates: Throughput) -> str:
    """"verified 1,234/h · signal 42% · 812 tok/s": short enough for the curves panel of an
    80-column terminal (46 cells) up to 99,999 verified answers an hour; "–" for what the steps
    do not report."""
    per_hour = rates.verified_per_hour
    per_hour_text = _num(per_hour, ",.0f" if per_hour is not None and per_hour >= 100 else ".1f")
    share = _num(rates.signal_share * 100 if rates.signal_share is not None else None, ".0f")
    return (f"verified {per_hour_text}/h · signal {share}{'%' if share != '–' else ''}"
            f" · {_num(rates.tokens_per_s, '.0f')} tok/s")


class CachedPlot(PlotextPlot):
    """A PlotextPlot that rebuilds its picture only when the data, size or theme changed.

    Plotext draws the whole chart on every render, and a screen layout asks every widget to
    render again; caching keeps a busy dashboard from redrawing an unchanged chart."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.version = 0  # bump after changing the data
        self._cache_key: tuple | None = None
        self._cached: RenderResult | None = None

    def render(self) -> RenderResult:
        key = (self.version, self.size, self.app.theme)
        if key != self._cache_key or self._cached is None:
            self._cached = super().render()
            self._cache_key = key
        return self._cached


class Curves(Vertical):
    """A chart of reward mean and accuracy over steps, a line of the latest numbers and a line of
    the run's throughput."""

    def compose(self) -> ComposeResult:
        yield CachedPlot(id="curves-plot")
        yield Static("waiting for the first step", id="curves-stats")
        yield Static("", id="curves-rates")

    def on_mount(self) -> None:
        self.show([])
        self.show_rates(NO_RATES)

    def show(self, steps: list[Step], phase: Phase | None = None) -> None:
        """Plot the steps so far; the line under the plot says what the engine is doing while a
        step (or the tree, or the model) is in the making, else the last step's figures."""
        plot = self.query_one(CachedPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("reward · accuracy per step")
        xs = [s.step or i + 1 for i, s in enumerate(steps)]
        if steps:
            plt.plot(xs, [s.reward_mean or 0.0 for s in steps], label="reward", marker="braille")
            plt.plot(xs, [s.accuracy or 0.0 for s in steps], label="accuracy", marker="braille")
        plt.ylim(0, 1.1)
        plot.version += 1
        plot.refresh()
        stats = self.query_one("#curves-stats", Static)
        if phase is not None:
            stats.update(layout=False, content=describe_phase(phase, len(steps) + 1))
        elif steps:
            last = steps[-1]
            stats.update(layout=False, content=
                f"step {last.step}  reward {_num(last.reward_mean, '.3f')}"
                f"  acc {_num(last.accuracy, '.2f')}  KL {_num(last.kl, '.4f')}"
                f"  loss {_num(last.loss, '.4f')}",
            )

    def show_rates(self, rates: Throughput) -> None:
        """The throughput line: cheap, so it can follow every event, not only the steps."""
        empty = rates.verified_per_hour is None and rates.signal_share is None and rates.tokens_per_s is None
        self.query_one("#curves-rates", Static).update("" if empty else throughput_line(rates), layout=False)
        self.set_class(empty, "-no-rates")  # no step yet: the chart keeps the row
