from advocacy_metrics.app import main

main()
