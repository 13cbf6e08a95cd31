from advocacy_content.app import main

main()
