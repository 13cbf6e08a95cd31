from advocacy_planner.app import main

main()
