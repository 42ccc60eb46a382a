"""The demo application on top of the package: the ``autograd-lite`` command (:mod:`.cli`),
the training loop and data sets it uses (:mod:`.training`), and the hand-derived backprop
it checks the engine against (:mod:`.hand_backprop`).

Nothing here is imported by ``import autograd_lite`` (the demo needs scikit-learn and,
for the loss plot, matplotlib), and this file imports nothing: import the module you use,
e.g. ``from autograd_lite.demo import training``.
"""
