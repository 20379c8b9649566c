from medipersona.cli import main

main()
