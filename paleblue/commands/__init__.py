"""The ``paleblue`` commands: one module per command group, each with ``add_parser(sub)`` and ``main(args)``.

A module imports its heavy dependencies inside ``main``, so ``--help`` answers at once and
``paleblue ground`` never loads the renderer.
"""
