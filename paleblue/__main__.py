from paleblue.cli import main

raise SystemExit(main())
