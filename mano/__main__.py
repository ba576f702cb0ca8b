from mano.cli import main

main()
