"""python -m autograd_lite: the autograd-lite command."""
import sys

from .demo.cli import main

sys.exit(main())
