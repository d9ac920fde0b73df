"""The alarm table: every latched fault the robot can raise, with its number and meaning."""
from micropython import const

ESTOP = const(1)
HARD_LIMIT = const(2)
DRIVER_FAULT = const(3)
FOLLOWING_ERROR = const(4)
POSITION_LOST = const(5)
WATCHDOG_RESET = const(6)
HOMING_FAILED = const(7)
LIFT_NOT_STOWED = const(8)
LIFT_TIMEOUT = const(9)
GRIP_FAILED = const(10)
LATCH_FAILED = const(11)
UNLATCH_FAILED = const(12)
PORT_OCCUPIED = const(13)
UNIT_MISSING = const(14)
PULL_OFF_FAILED = const(15)
ENCODER_FAULT = const(16)
SOFT_LIMIT = const(17)
GRIP_JAM = const(18)
INTERLOCK = const(19)
LEDGER_INVALID = const(20)
TASK_CRASH = const(21)
STORAGE_FAULT = const(22)

# code: (name, meaning, position may be lost so re-homing is needed before the next traverse)
TABLE = {
    ESTOP: ("ESTOP", "emergency-stop chain opened: driver power cut", True),
    HARD_LIMIT: ("HARD_LIMIT", "a hard limit switch past the end of the rail was hit", True),
    DRIVER_FAULT: ("DRIVER_FAULT", "a stepper driver reported a fault on DIAG", True),
    FOLLOWING_ERROR: ("FOLLOWING_ERROR", "measuring wheel and commanded steps disagree beyond the limit (stall, slip, no step output)", True),
    POSITION_LOST: ("POSITION_LOST", "the expected station marker was not read on arrival", True),
    WATCHDOG_RESET: ("WATCHDOG_RESET", "the controller was reset by its watchdog", True),
    HOMING_FAILED: ("HOMING_FAILED", "the home switch was not found within the search distance", True),
    LIFT_NOT_STOWED: ("LIFT_NOT_STOWED", "the lift was not stowed when a traverse was due or during it", True),
    LIFT_TIMEOUT: ("LIFT_TIMEOUT", "the lift did not reach the stow switch after lowering", True),
    GRIP_FAILED: ("GRIP_FAILED", "the gripper did not reach open or closed, or lost the unit", False),
    LATCH_FAILED: ("LATCH_FAILED", "the carried unit did not latch into the port; it is still gripped", False),
    UNLATCH_FAILED: ("UNLATCH_FAILED", "the port did not release the unit", False),
    PORT_OCCUPIED: ("PORT_OCCUPIED", "the target port already holds a unit; the carried unit is still gripped", False),
    UNIT_MISSING: ("UNIT_MISSING", "no unit at the port the ledger names", False),
    PULL_OFF_FAILED: ("PULL_OFF_FAILED", "the home switch did not release during the pull-off", True),
    ENCODER_FAULT: ("ENCODER_FAULT", "no measuring-wheel count while commanded to move", True),
    SOFT_LIMIT: ("SOFT_LIMIT", "a move target outside 0..travel was refused", False),
    GRIP_JAM: ("GRIP_JAM", "the gripper motor stalled twice (a jam): motor off", False),
    INTERLOCK: ("INTERLOCK", "an action was refused by a rule of PRODUCT.md (1: cable in use, 3: unit not latched or not gripped); nothing moved", False),
    LEDGER_INVALID: ("LEDGER_INVALID", "the ledger stored on flash could not be taken (unreadable, or not this site's units): check every unit's place, then reset", False),
    TASK_CRASH: ("TASK_CRASH", "a firmware task stopped on an error (a bug; the event log names it): controlled stop, drivers off, the task restarted", True),
    STORAGE_FAULT: ("STORAGE_FAULT", "a write of the record to flash failed (full, I/O error, rename refused); reset saves it again", False),
}


def name(code):
    entry = TABLE.get(code)
    return entry[0] if entry else "UNKNOWN"


def needs_homing(code):
    entry = TABLE.get(code)
    return entry[2] if entry else True


# `alarms`'s reply, written out: a literal stays in flash in a frozen image, where a string built at
# import would take heap for good (tests/firmware/test_commands.py checks it against TABLE)
REPLY = ("ok 1=ESTOP;2=HARD_LIMIT;3=DRIVER_FAULT;4=FOLLOWING_ERROR;5=POSITION_LOST;6=WATCHDOG_RESET;"
         "7=HOMING_FAILED;8=LIFT_NOT_STOWED;9=LIFT_TIMEOUT;10=GRIP_FAILED;11=LATCH_FAILED;12=UNLATCH_FAILED;"
         "13=PORT_OCCUPIED;14=UNIT_MISSING;15=PULL_OFF_FAILED;16=ENCODER_FAULT;17=SOFT_LIMIT;18=GRIP_JAM;"
         "19=INTERLOCK;20=LEDGER_INVALID;21=TASK_CRASH;22=STORAGE_FAULT")
