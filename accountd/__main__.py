from accountd.cli import main

main()
