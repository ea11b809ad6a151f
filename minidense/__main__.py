"""`python -m minidense ...` is the `minidense` command."""
import sys

from .cli import main

sys.exit(main())
