"""The card stage: the run's model card (markdown and its figures), written every time."""

from __future__ import annotations

from model_zoo.pretrained import CARD_FILE
from orchestration.model_card import write_model_card
from orchestration.settings import PipelineSettings
from orchestration.stage_cache import run_dir
from orchestration.stage_results import CandidateResults, CardResult
from orchestration.stages.common import decision_step


def card_stage(settings: PipelineSettings, run_id: str, candidate: CandidateResults) -> CardResult:
    """Write the run's model card (markdown and its figures) into ``runs/<id>/card/``.

    Args:
        settings: The run's settings.
        run_id: The run's id.
        candidate: The results of the stages that made and measured the candidate.

    Returns:
        The markdown's path, and name -> path of the card and of every figure it shows.
    """
    out = run_dir(settings.root, run_id) / "card"

    def write() -> CardResult:
        files = write_model_card(out, run_id, settings, candidate)
        return CardResult(card=str(files[CARD_FILE]), files={name: str(path) for name, path in files.items()})

    return decision_step(CardResult, settings, run_id, "card", write, lambda r: r.card)
