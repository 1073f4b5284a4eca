"""Reports the keyword classifier is sure or unsure about, and a runtime wired for triage."""

from __future__ import annotations

from cityops.brain import service as brain
from cityops.core.runtime import Runtime

# Several strong terms of 暴露垃圾 (E-01-02), in the title too: well above the threshold.
CONFIDENT_TITLE = "路边垃圾没人清"
CONFIDENT_TEXT = "小区门口路边垃圾没人清，暴露垃圾发臭，还有人乱扔垃圾"
# One weak term shared by several manhole-cover categories: a guess, not a decision.
UNSURE_TITLE = "反映一个情况"
UNSURE_TEXT = "门口的井盖好像不太对劲，晚上看不清"
THRESHOLD = 0.8


def wire(rt: Runtime, *, auto_dispatch: bool = True, threshold: float = THRESHOLD) -> Runtime:
    """Subscribe triage to the test's case events, as ``app.build_runtime`` does."""
    rt.settings = rt.settings.model_copy(
        update={"auto_dispatch": auto_dispatch, "auto_dispatch_threshold": threshold}
    )
    brain.attach(rt)
    return rt
