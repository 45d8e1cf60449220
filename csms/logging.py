"""structlog set-up: JSON lines in production, readable lines in a terminal, one event per line."""

from __future__ import annotations

import logging
import sys

import structlog

from csms.config import LogConfig


def configure_logging(config: LogConfig) -> None:
    """Configure structlog and the stdlib root logger once, at process start.

    After this, `structlog.get_logger()` emits one line per event to stderr with an ISO UTC timestamp;
    context bound with `.bind(charge_point_id=...)` appears on every line of that logger.
    """
    level = logging.getLevelNamesMapping().get(config.level.upper(), logging.INFO)
    use_json = config.format == "json" or (config.format == "auto" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Not cached: module-level loggers must follow a later reconfiguration (tests capture logs after
        # a CLI run configured them). Hot paths bind their own logger once per connection anyway.
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr, format="%(name)s %(message)s")
