from celery import shared_task

from core.services.scheduler import scheduler_heartbeat_record


@shared_task(name="core.scheduler_heartbeat", acks_late=True, ignore_result=True)
def scheduler_heartbeat() -> None:
    scheduler_heartbeat_record()
