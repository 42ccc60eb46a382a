"""python -m autograd_lite: the autograd-lite command."""
import sys

from .cli import main

sys.exit(main())
