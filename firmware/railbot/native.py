"""railbot.plan as this board runs it: compiled for its native emitter where it has one (railbot_host.native), else the source."""
try:  # frozen into the image, or deployed as railbot/plan_native.mpy
    from railbot import plan_native as plan
except (ImportError, ValueError):  # none here, or one deployed for another CPU ("incompatible .mpy arch")
    from railbot import plan  # noqa: F401
