from smscd.cli import main

main()
