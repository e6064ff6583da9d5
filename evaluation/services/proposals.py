"""Testing a proposed prompt change: its prompt suite and the golden evaluation, run for the
proposal and for the version it would replace, stored side by side on the proposal for the
reviewer. Runs in a Celery task (``evaluation.proposal_evaluate``), enqueued when the proposal
is submitted (``ops.services.prompt_proposals.proposal_submit``)."""

from __future__ import annotations

import logging
from typing import Any

from evaluation.services.golden import GoldenProvider, golden_run
from evaluation.services.prompt_suites import ProviderChoice, suite_run
from prompts.contracts import PromptTemplate
from prompts.models import PromptProposal, ProposalState
from prompts.selectors import proposal_get
from prompts.services.proposals import proposal_results_record, proposal_template
from prompts.services.registry import prompt_by_key, prompts_current
from prompts.services.selection import PromptChoice

logger = logging.getLogger(__name__)


def _tests_of(*, template: PromptTemplate, provider: str, golden_provider: str) -> dict[str, Any]:
    # Every other prompt at its production version: the comparison isolates this one change.
    choice = PromptChoice(templates={**prompts_current(), template.prompt_id: template})
    return {
        "prompt_key": template.key,
        "suite": suite_run(template=template, provider=provider).as_dict(),
        "golden": golden_run(prompts=choice, provider=golden_provider),
    }


def proposal_evaluate(
    *, proposal_id: int, provider: str = ProviderChoice.SIMULATED, golden_provider: str = GoldenProvider.INSTRUCTED
) -> PromptProposal | None:
    """Run the proposal's suite and golden evaluation, and the same for its base version, and
    record them (``tested`` when the proposal's suite passes, else ``failed``). Idempotent: a
    proposal no longer being tested is returned as it is, nothing is run again."""
    proposal = proposal_get(proposal_id=proposal_id)
    if proposal is None:
        logger.warning("evaluation.proposal_missing proposal=%s", proposal_id)
        return None
    if proposal.state != ProposalState.TESTING:
        return proposal
    results = _tests_of(template=proposal_template(proposal=proposal), provider=provider,
                        golden_provider=golden_provider)  # fmt: skip
    baseline = _tests_of(template=prompt_by_key(key=proposal.base_version.key), provider=provider,
                         golden_provider=golden_provider)  # fmt: skip
    ok = bool(results["suite"]["ok"])
    logger.info("evaluation.proposal_tested proposal=%s ok=%s", proposal_id, ok)
    return proposal_results_record(proposal_id=proposal_id, results=results, baseline_results=baseline, ok=ok)
