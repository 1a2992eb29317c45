from brainlens.cli import main

raise SystemExit(main())
