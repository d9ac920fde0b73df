# railbot: `make sim` runs a simulated day, `make test` runs every test tier that runs here.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
UPY_DIR := host_tools/upy
UPY_MOD := $(UPY_DIR)/node_modules/.installed
SI_DIR  := host_tools/silicon
SI_MOD  := $(SI_DIR)/node_modules/.installed

SEED  ?= 1
HOURS ?= 24
UNITS ?= 6
RATE  ?= 1.0
PORT  ?=
BOARD ?= PICO
# make sim ROBOT=path/robot.json: the simulated day on other board data (default boards/SIM/robot.json)
ROBOT ?=

.PHONY: sim test test-cpython test-upy bench clean venv npm deploy test-board firmware toolchain chromium demo

venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements.txt
	$(VPY) -m pip install -q -e .
	touch $@

npm: $(UPY_MOD) $(SI_MOD)
$(UPY_MOD): $(UPY_DIR)/package.json $(UPY_DIR)/package-lock.json
	cd $(UPY_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@
$(SI_MOD): $(SI_DIR)/package.json $(SI_DIR)/package-lock.json
	cd $(SI_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

sim: venv
	$(VENV)/bin/railbot sim --seed $(SEED) --hours $(HOURS) --units $(UNITS) --rate $(RATE) $(if $(ROBOT),--board-data '$(ROBOT)')

test: venv npm
	$(VENV)/bin/railbot test

bench: venv npm
	$(VENV)/bin/railbot bench

# A board on USB (PORT=/dev/ttyACM0) or a virtual one (PORT=socket://127.0.0.1:NNNN).
deploy: venv
	@test -n "$(PORT)" || { echo "usage: make deploy PORT=/dev/ttyACM0 [BOARD=PICO|SIM]" >&2; exit 2; }
	$(VENV)/bin/railbot deploy --port $(PORT) --board $(BOARD)

test-board: venv
	@test -n "$(PORT)" || { echo "usage: make test-board PORT=/dev/ttyACM0" >&2; exit 2; }
	$(VENV)/bin/railbot test --port $(PORT) --board $(BOARD)

# The Pico's UF2 images (build/firmware/PICO/firmware.uf2 with railbot frozen, stock.uf2 without),
# built from pinned MicroPython v1.28.0 and cached in ~/.cache/railbot/firmware. Needs the arm
# toolchain: apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi (CI installs it).
# IMAGE=frozen or IMAGE=stock builds one. Exit status: see `railbot firmware --help`.
IMAGE ?= both
firmware: venv
	$(VENV)/bin/railbot firmware --board $(BOARD) --image $(IMAGE)

# The arm toolchain for `make firmware` and the frozen part of the silicon tier (Debian; as root,
# about 1 min and 2.8 GB). CI runs it before `make test`; elsewhere the tier skips that part and
# says to run this.
ARM_PKGS := gcc-arm-none-eabi libnewlib-arm-none-eabi
toolchain:
	@if command -v arm-none-eabi-gcc >/dev/null 2>&1; then echo "toolchain: arm-none-eabi-gcc is installed"; \
	elif [ "$$(id -u)" != 0 ]; then echo "toolchain: run as root: apt-get install -y $(ARM_PKGS)" >&2; exit 1; \
	else DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(ARM_PKGS) >/dev/null || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(ARM_PKGS) >/dev/null; } || \
	  echo "toolchain: apt-get could not install $(ARM_PKGS): the frozen image's silicon tests will skip" >&2; \
	  command -v arm-none-eabi-gcc >/dev/null 2>&1 && arm-none-eabi-gcc --version | head -1; true; fi

# The gateway, the simulated robot and units and a day of cars at 60x on 127.0.0.1: it prints the
# operator's page and one owner's page (docs/pages.md). DEMO_HTTP=127.0.0.1:PORT moves it.
DEMO_HTTP ?= 127.0.0.1:8480
demo: venv
	$(VENV)/bin/python -m railbot_host.gateway.demo --http $(DEMO_HTTP)

# Debian's Chromium and a CJK font (the zh-CN pages) for the pages' browser test
# (tests/host/test_pages_browser.py), as root, only where missing. CI runs it before `make test`;
# elsewhere that test skips in one line that says to run this.
CHROMIUM_PKGS := chromium fonts-wqy-microhei
chromium:
	@if command -v chromium >/dev/null 2>&1 && fc-list :lang=zh | grep -q .; then echo "chromium: $$(chromium --version 2>/dev/null | head -1)"; \
	elif [ "$$(id -u)" != 0 ]; then echo "chromium: run as root: apt-get install -y $(CHROMIUM_PKGS)" >&2; exit 1; \
	else DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(CHROMIUM_PKGS) >/dev/null || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(CHROMIUM_PKGS) >/dev/null; } || \
	  echo "chromium: apt-get could not install $(CHROMIUM_PKGS): the browser test will skip" >&2; \
	  command -v chromium >/dev/null 2>&1 && chromium --version 2>/dev/null | head -1; true; fi

clean:
	rm -rf build
