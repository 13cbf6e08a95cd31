from advocacy_ambassadors.app import main

main()
