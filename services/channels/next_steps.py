"""What to do about each work-queue reason, in the operator's words: the queue says it beside every row."""

from __future__ import annotations

# Reasons come from services.read_models.work_queue; account alerts bring 360dialog's own labels, which fall back
# to the generic step.
NEXT_STEPS = {
    "stuck": "ask the client to finish in 360dialog's hub, or open the channel",
    "running without a key": "open the channel and generate its key",
    "check key state": "ask 360dialog or test the key before generating again",
    "key stopped working": "open the channel: check its key again or generate a new one",
    "key not ready to use": "open the channel and finish making its key ready",
    "refused by 360dialog": "open the channel and ask for the key again",
    "revoked": "ask the client to share the number again through a new onboarding link",
    "quality or limit dropped": "tell the client; read the quality in 360dialog's hub",
    "left running": "open the channel: sync it, and ask 360dialog if it stays out of running",
    "template problem": "tell the client which template 360dialog or Meta turned down",
    "cancellation requested": "confirm the cancellation with the client before it ends",
}
DEFAULT_STEP = "open the channel and read its timeline"


def next_step(reason: str) -> str:
    return NEXT_STEPS.get(reason, DEFAULT_STEP)
