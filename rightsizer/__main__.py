from rightsizer.cli import main

main()
