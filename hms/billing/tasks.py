"""Celery tasks of billing (thin: load by id, call a service).

- `billing.claim_process(claim_id)`: send a submitted claim to its payer through the payer adapter and
  apply the answer (`hms.billing.claims.claim_process`); a claim no longer "submitted" is left alone.
"""

from celery import shared_task


@shared_task(name="billing.claim_process", acks_late=True)
def claim_process_task(claim_id: int) -> str:
    """Returns the claim's status after processing, or "skipped"."""
    from .claims import claim_process

    claim = claim_process(claim_id=claim_id)
    return claim.status if claim is not None else "skipped"
