"""Check your work on the public cases, or pack it for submission (see README.md).

python selfcheck.py                  # every part
python selfcheck.py <part> ...       # some parts
python selfcheck.py --pack <학번>     # <학번>.zip, ready to upload
"""

import sys
from pathlib import Path

from autograder.selfcheck import main

sys.exit(main(folder=Path(__file__).resolve().parent))
