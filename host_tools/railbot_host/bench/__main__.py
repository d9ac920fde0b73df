"""`python -m railbot_host.bench`: the same as `railbot bench`."""

import sys

from railbot_host.bench import main

sys.exit(main())
