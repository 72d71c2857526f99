from smsconsent.cli import main

main()
