import logging
import time

from django.core.management.base import BaseCommand

from training.scheduler import scheduler_tick

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Start due cycles, settle waiting ones and fail dead work, every --interval seconds (or --once). "
        "Safe to run in several processes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=15.0, help="seconds between ticks")
        parser.add_argument("--once", action="store_true", help="tick once and exit")

    def handle(self, *args, interval, once, **options):
        while True:
            try:
                done = scheduler_tick()
            except Exception:  # noqa: BLE001 - the next tick may well succeed (a database restart, a lock)
                if once:
                    raise
                logger.exception("The scheduler's tick failed; trying again in %s s", interval)
                time.sleep(interval)
                continue
            if done["started"] or done["decided"] or done["failed"]:
                self.stdout.write(
                    f"started cycles {done['started']}, decided {done['decided']}, failed {done['failed']} stale"
                )
            if once:
                return
            time.sleep(interval)
